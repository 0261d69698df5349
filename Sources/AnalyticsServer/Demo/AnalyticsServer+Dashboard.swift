import AnalyticsCache
import Foundation
import HTTPTypes
import Hummingbird
import NIOCore

extension AnalyticsServer {
    /// Adds the live dashboard to `router`: `GET /` (the page, rendered on the server with the
    /// current results), `GET /dashboard/stream` (rendered panels pushed over SSE as results
    /// change), and its script and style — every asset served by the binary, no CDN.
    /// - Parameters:
    ///   - router: the router (from ``router()``)
    ///   - panels: the panels, in page order (global queries, default parameters)
    ///   - title: the page's title
    public func addDashboard(to router: Router<BasicRequestContext>, panels: [DashboardPanel], title: String) {
        let byQuery = Dictionary(grouping: panels, by: \.query)
        router.get("/") { [self] _, _ in await dashboardPage(panels: panels, title: title) }
        router.get("/dashboard/stream") { [self] request, _ in
            await guarded {
                let watched = try Set(panels.map(\.query)).sorted().map { query in Watched(query: query, parameters: [:], key: try cache.key(for: query, textParameters: [:]).rawValue) }
                let after = try textParameters(request)["after"]
                let resume = StreamPosition(request.headers[.lastEventID] ?? after)
                return eventStream(watched, scope: .none, resume: resume, format: .dashboard(byQuery))
            }
        }
        router.get("/dashboard.js") { _, _ in
            Response(status: .ok, headers: [.contentType: "text/javascript; charset=utf-8", .cacheControl: "no-cache"],
                     body: ResponseBody(byteBuffer: ByteBuffer(string: DashboardAssets.script)))
        }
        router.get("/dashboard.css") { _, _ in
            Response(status: .ok, headers: [.contentType: "text/css; charset=utf-8", .cacheControl: "no-cache"],
                     body: ResponseBody(byteBuffer: ByteBuffer(string: DashboardAssets.style)))
        }
    }

    func dashboardPage(panels: [DashboardPanel], title: String) async -> Response {
        // The stream resumes after what the page shows: read the bus position before the results.
        let position = StreamPosition(epoch: cache.bus.epoch, sequence: cache.bus.lastSequence).text
        var sections: [String] = []
        for panel in panels {
            let result = try? await cache.result(for: panel.query, textParameters: [:])
            sections.append(DashboardRenderer.panel(panel, result: result))
        }
        let html = """
            <!doctype html>
            <html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
            <title>\(DashboardRenderer.escape(title))</title><link rel="stylesheet" href="/dashboard.css"></head>
            <body data-after="\(DashboardRenderer.escape(position))">
            <header><h1>\(DashboardRenderer.escape(title))</h1>
            <button id="place-order" type="button">Place an order</button>
            <span id="status" aria-live="polite"></span></header>
            <main class="grid">
            \(sections.joined(separator: "\n"))
            </main>
            <script src="/dashboard.js"></script>
            </body></html>
            """
        return Response(status: .ok, headers: [.contentType: "text/html; charset=utf-8", .cacheControl: "no-cache"],
                        body: ResponseBody(byteBuffer: ByteBuffer(string: html)))
    }
}

/// The dashboard's script and style.
enum DashboardAssets {
    static let script = #"""
    "use strict";
    (function () {
      const status = document.getElementById("status");
      const after = document.body.dataset.after || "";
      const source = new EventSource("/dashboard/stream?after=" + encodeURIComponent(after));
      source.addEventListener("panel", (event) => {
        const template = document.createElement("template");
        template.innerHTML = event.data;
        const fresh = template.content.firstElementChild;
        const old = fresh && document.getElementById(fresh.id);
        if (!old) return;
        old.replaceWith(fresh);
        fresh.classList.add("updated");
        fresh.dataset.updates = String(Number(old.dataset.updates || "0") + 1);
      });
      source.addEventListener("stale", (event) => {
        const panel = document.getElementById(event.data);
        if (panel) panel.classList.add("stale");
      });
      source.addEventListener("resync", () => window.location.reload());
      source.addEventListener("open", () => { document.body.dataset.live = "true"; });
      let placed = 0;
      document.getElementById("place-order").addEventListener("click", async () => {
        const key = 20000000 + Math.floor(Math.random() * 1e9);
        const modes = ["AIR", "FOB", "MAIL", "RAIL", "REG AIR", "SHIP", "TRUCK"];
        const order = {
          orderKey: key, customerKey: 1 + Math.floor(Math.random() * 150000), nationKey: Math.floor(Math.random() * 25),
          totalCents: 1000 + Math.floor(Math.random() * 400000), shipMode: modes[Math.floor(Math.random() * modes.length)]
        };
        const body = { aggregateType: "Order", aggregateId: String(key), expectedVersion: "none",
                       events: [{ type: "OrderPlaced", payload: order }, { type: "OrderPaid", payload: { amountCents: order.totalCents } }] };
        const response = await fetch("/api/events", { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body) });
        placed += 1;
        status.textContent = response.ok ? "order " + key + " placed (" + placed + ")" : "the order failed: " + response.status;
      });
    })();
    """#

    static let style = """
    body { font-family: system-ui, sans-serif; margin: 0; background: #f5f6f8; color: #1d2330; }
    header { display: flex; align-items: center; gap: 1rem; padding: 0.8rem 1.2rem; background: #1d2330; color: #fff; }
    header h1 { font-size: 1.2rem; margin: 0; flex: 1; }
    button { font-size: 1rem; padding: 0.4rem 0.9rem; border-radius: 6px; border: 0; background: #3b82f6; color: #fff; cursor: pointer; }
    .grid { display: grid; grid-template-columns: repeat(auto-fill, minmax(420px, 1fr)); gap: 1rem; padding: 1rem; }
    .panel { background: #fff; border-radius: 8px; padding: 0.8rem 1rem; box-shadow: 0 1px 3px rgba(0,0,0,.12); transition: box-shadow .6s; }
    .panel.updated { box-shadow: 0 0 0 3px #22c55e; }
    .panel.stale { opacity: .6; }
    .panel h2 { font-size: 1rem; margin: 0 0 .5rem; }
    .panel footer { font-size: .75rem; color: #64748b; margin-top: .4rem; }
    .served { font-weight: 600; }
    .bar { fill: #3b82f6; } .bar-label, .bar-value { font-size: 12px; fill: #334155; }
    table { border-collapse: collapse; width: 100%; font-size: .85rem; } th, td { text-align: left; padding: 2px 6px; border-bottom: 1px solid #e2e8f0; }
    .figures { display: flex; gap: 1.5rem; } .figure { display: flex; flex-direction: column; } .figure .value { font-size: 1.6rem; font-weight: 600; }
    .figure .label { font-size: .75rem; color: #64748b; }
    .error { color: #b91c1c; }
    """
}

extension DemoDomain {
    /// The dashboard's panels over ``queries``.
    public static let panels: [DashboardPanel] = [
        DashboardPanel(query: "today", title: "Today (live orders)", kind: .figures),
        DashboardPanel(query: "revenue-by-year", title: "Revenue by year (millions)", kind: .bars(label: "year", value: "revenue_millions")),
        DashboardPanel(query: "order-status", title: "Orders by status", kind: .bars(label: "status", value: "orders")),
        DashboardPanel(query: "revenue-by-region", title: "Revenue by region (millions)", kind: .bars(label: "region", value: "revenue_millions")),
        DashboardPanel(query: "revenue-by-nation", title: "Revenue by nation in Europe (millions)", kind: .bars(label: "nation", value: "revenue_millions")),
        DashboardPanel(query: "shipping-modes", title: "Shipping-mode mix (lines)", kind: .bars(label: "mode", value: "lines")),
        DashboardPanel(query: "top-customers", title: "Top customers", kind: .table),
        DashboardPanel(query: "pricing-summary", title: "Pricing summary (TPC-H Q1)", kind: .table),
    ]
}

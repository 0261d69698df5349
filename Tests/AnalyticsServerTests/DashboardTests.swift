import AnalyticsCache
import AnalyticsServer
import CacheTestSupport
import Foundation
import Testing

/// The dashboard: rendered on the server with the current results, every asset served by the
/// binary, panels pushed as HTML fragments when their results change, and nothing a client
/// wrote ever becomes markup.
@Suite(.timeLimit(.minutes(2))) struct DashboardTests {
    static let customers = QueryDefinition(id: "customers", sql: "SELECT customer, count(*) AS n FROM orders GROUP BY 1 ORDER BY 1")
    static let panels = [
        DashboardPanel(query: "all-orders", title: "All orders", kind: .figures),
        DashboardPanel(query: "customers", title: "Customers", kind: .table),
        DashboardPanel(query: "customers", title: "Customers again", kind: .bars(label: "customer", value: "n"), name: "customer-bars"),
    ]

    @Test func thePageShowsEveryPanelAndTheStreamPushesChangedOnes() async throws {
        try await ServerRig.with(queries: [ServerRig.all, Self.customers], dashboard: Self.panels) { rig in
            #expect(try await rig.postOrder(tenant: "t", customer: "<img src=x onerror=alert(1)>", amount: 2).status == 201)
            let page = try await rig.send(.GET, "/")
            #expect(page.status == 200 && page.headers["Content-Type"].first?.hasPrefix("text/html") == true)
            let html = String(decoding: page.body, as: UTF8.self)
            #expect(html.contains(#"id="panel-all-orders""#) && html.contains(#"id="panel-customers""#) && html.contains(#"id="panel-customer-bars""#))
            #expect(html.contains("Test &lt;dashboard&gt;"))
            #expect(html.contains("&lt;img src=x onerror=alert(1)&gt;") && !html.contains("<img src=x"), "client data is escaped")
            #expect(html.contains(#"<script src="/dashboard.js"></script>"#) && !html.contains("http://") && !html.contains("https://"))
            for asset in ["/dashboard.js", "/dashboard.css"] { #expect(try await rig.send(.GET, asset).status == 200) }
            let after = try #require(html.range(of: #"data-after=""#).map { html[$0.upperBound...].prefix { $0 != "\"" } })

            let stream = try await SSEReader(rig, "/dashboard/stream?after=" + String(after))
            #expect(try await rig.postOrder(tenant: "t", customer: "c2", amount: 3).status == 201)
            var panel: String?
            while let frame = try await stream.nextEvent() {
                if frame.event == "panel", frame.data.contains(#"id="panel-all-orders""#) {
                    panel = frame.data
                    break
                }
            }
            let pushed = try #require(panel)
            #expect(pushed.contains(#"<span class="value">2</span><span class="label">n</span>"#), "\(pushed)")
            #expect(!pushed.contains("\n"))
        }
    }

    @Test func anSSEFrameKeepsEveryLineOfItsDataAndNeverEndsEarly() {
        let frame = SSEFrame(id: "e-1\nid: forged", event: "result\r\nevent: x", data: "line one\r\nline two\rline three\n\nafter blank")
        let text = String(decoding: frame.encoded, as: UTF8.self)
        #expect(text == "id: e-1 id: forged\nevent: result  event: x\ndata: line one\ndata: line two\ndata: line three\ndata: \ndata: after blank\n\n")
        #expect(String(decoding: SSEFrame.comment("beat\nid: 9"), as: UTF8.self) == ": beat id: 9\n\n")
    }
}

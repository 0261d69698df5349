import AnalyticsCache
import AnalyticsServer
import CacheTestSupport
import Foundation
import Testing
import TestSupport

/// The dashboard in a real browser: headless Chromium (Debian's, driven through chromium-driver
/// by selenium in the project's .venv) loads the page, a chart renders, "Place an order" posts an
/// event, and the affected panel is replaced by the server's push within 2 s.
@Suite(.timeLimit(.minutes(3))) struct BrowserTests {
    @Test func placingAnOrderInTheBrowserUpdatesThePanelWithinTwoSeconds() async throws {
        try await ServerRig.with(queries: [ServerRig.all, DashboardTests.customers], dashboard: DashboardTests.panels) { rig in
            // Something to chart before the click.
            #expect(try await rig.postOrder(tenant: "t", customer: "c1", amount: 2).status == 201)
            let screenshots = TestSupport.packageRoot.appendingPathComponent(".build/screenshots")
            try FileManager.default.createDirectory(at: screenshots, withIntermediateDirectories: true)
            let screenshot = screenshots.appendingPathComponent("dashboard.png").path
            let script = TestSupport.packageRoot.appendingPathComponent("scripts/testservers/browser_check.py").path
            let (_, output) = try await ServerRig.run(try TestSupport.python(), [script, rig.base + "/", "panel-all-orders", screenshot, "2"])
            let line = output.split(separator: "\n").last { $0.hasPrefix("{") }.map(String.init) ?? ""
            let report = ServerRig.object(Array(line.utf8))
            print("browser: \(output)")
            #expect(report["updated"] as? Bool == true, "\(output)")
            #expect((report["charts"] as? Int ?? 0) >= 1, "a chart rendered")
            #expect((report["seconds"] as? Double ?? 99) <= 2)
            #expect(FileManager.default.fileExists(atPath: screenshot))
        }
    }
}

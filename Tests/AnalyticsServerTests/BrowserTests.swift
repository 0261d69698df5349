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
            let output = try await Self.python([script, rig.base + "/", "panel-all-orders", screenshot, "2"])
            let report = ServerRig.object(Array(output.utf8))
            print("browser: \(output)")
            #expect(report["updated"] as? Bool == true, "\(output)")
            #expect((report["charts"] as? Int ?? 0) >= 1, "a chart rendered")
            #expect((report["seconds"] as? Double ?? 99) <= 2)
            #expect(FileManager.default.fileExists(atPath: screenshot))
        }
    }

    /// Runs the project's Python off Swift's cooperative threads (the server shares them).
    static func python(_ arguments: [String]) async throws -> String {
        try await withCheckedThrowingContinuation { continuation in
            DispatchQueue.global().async {
                do {
                    let process = Process()
                    process.executableURL = URL(fileURLWithPath: try TestSupport.python())
                    process.arguments = arguments
                    let out = Pipe(), err = Pipe()
                    process.standardOutput = out
                    process.standardError = err
                    try process.run()
                    let stdout = out.fileHandleForReading.readDataToEndOfFile()
                    let stderr = err.fileHandleForReading.readDataToEndOfFile()
                    process.waitUntilExit()
                    let text = String(decoding: stdout, as: UTF8.self)
                    if text.isEmpty {
                        continuation.resume(throwing: HarnessError(description: "browser check: \(String(decoding: stderr, as: UTF8.self))"))
                    } else {
                        continuation.resume(returning: text)
                    }
                } catch {
                    continuation.resume(throwing: error)
                }
            }
        }
    }
}

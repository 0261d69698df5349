import AnalyticsServer
import ArgumentParser
import Deployment
import Foundation
import Logging
import ServiceLifecycle
import Dispatch

extension ServeCommand {
    /// The config's own domain (events, projections, datasets), checked; nil when it declares none
    /// (the demo's data and projections serve, with the config's queries if any).
    func deploymentConfig(_ settings: ServeSettings) throws -> DeploymentConfig? {
        guard let config, settings.declaresDomain else { return nil }
        let loaded = DeploymentConfig.load(contentsOf: URL(fileURLWithPath: config))
        let check = ConfigCheck.run(loaded)
        guard check.isValid else {
            throw ValidationError("\(config) is not valid (analytics-cache check-config lists the same):\n"
                + check.problems.map { "  " + $0.description }.joined(separator: "\n"))
        }
        return loaded
    }

    /// What `POST /api/admin/reload` and SIGHUP run: the file read again; `server`, `tenancy` and
    /// `cache` changes reported as needing a restart; everything else applied by `live`.
    func reloadAction(_ live: LiveDeployment, started: ServeSettings) -> @Sendable () async throws -> [String: any Sendable] {
        let path = config ?? ""
        return {
            let settings: ServeSettings
            do { settings = try ServeSettings(contentsOf: URL(fileURLWithPath: path)) } catch {
                throw ReloadRefused(problems: ["\(error)"])
            }
            guard settings.declaresDomain == started.declaresDomain else {
                throw ReloadRefused(problems: ["declaring or removing events, projections or datasets replaces the demo's domain: restart the server for that"])
            }
            do {
                let report = try await live.reload()
                var json = report.json
                var restart = report.restartRequired
                if settings.server != started.server { restart.append("server") }
                if settings.tenancy != started.tenancy { restart.append("tenancy") }
                if settings.memoryMB != started.memoryMB || settings.diskMB != started.diskMB || settings.diskPath != started.diskPath {
                    restart.append("cache")
                }
                json["restartRequired"] = restart
                return json
            } catch let refused as ConfigRefused {
                throw ReloadRefused(problems: refused.problems.map(\.description))
            } catch let partly as ReloadPartlyApplied {
                throw ReloadRefused(problems: [partly.reason], partlyApplied: true)
            } catch {
                throw ReloadRefused(problems: ["\(error)"])
            }
        }
    }
}

/// Reloads the config on SIGHUP (as `POST /api/admin/reload` does), for the life of the server.
struct ReloadOnHangup: Service {
    let reload: @Sendable () async throws -> [String: any Sendable]
    let logger: Logger

    func run() async throws {
        let (hangups, continuation) = AsyncStream.makeStream(of: Void.self, bufferingPolicy: .bufferingNewest(1))
        // SIGHUP's default action ends the process: ignore it, and hear it through a dispatch source.
        signal(SIGHUP, SIG_IGN)
        let source = DispatchSource.makeSignalSource(signal: SIGHUP, queue: .global())
        source.setEventHandler { continuation.yield() }
        source.resume()
        defer { source.cancel(); continuation.finish() }
        for await _ in hangups.cancelOnGracefulShutdown() {
            do {
                let report = try await reload()
                logger.info("config reloaded on SIGHUP", metadata: ["report": "\(report.keys.sorted().map { "\($0)=\(report[$0] ?? "")" })"])
            } catch {
                logger.error("config reload on SIGHUP refused; the previous config keeps serving", metadata: ["error": "\(error)"])
            }
        }
    }
}

import ArgumentParser
import DuckDBClient
import Foundation
import RemoteData

/// `analytics-cache data-version --config FILE [--dataset NAME]…`
struct DataVersionCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "data-version",
        abstract: "Print the current data version of each dataset in a configuration file.",
        discussion: """
            One line per dataset: `<name> <version> <milliseconds the probe took>`. The version is \
            what the cache puts into the keys of results over the dataset: it changes when a file \
            is replaced (HTTP ETag or Last-Modified, S3 ETags of the objects a glob matches, local \
            size and modification time) or a DuckLake catalog commits. Exit 1 if a probe fails.
            """
    )

    @Option(help: "The configuration file (JSON).")
    var config: String

    @Option(help: "Only this dataset (repeatable).")
    var dataset: [String] = []

    func run() async throws {
        do {
            let file = try DataSourceConfiguration.load(from: URL(fileURLWithPath: config))
            let database = try Database(configuration: file.databaseConfiguration())
            let pool = try DuckDBPool(database: database, configuration: .init(connections: 1))
            let chosen = dataset.isEmpty ? file.datasets : file.datasets.filter { dataset.contains($0.name) }
            for missing in Set(dataset).subtracting(file.datasets.map(\.name)) {
                writeStderr("error: no dataset named \(missing) in \(config)\n")
                throw ExitCode.failure
            }
            var failed = false
            for entry in chosen {
                let probe = try file.probe(for: entry, pool: pool)
                let start = ContinuousClock.now
                do {
                    let version = try await probe.currentVersion()
                    let elapsed = start.duration(to: .now)
                    let ms = Double(elapsed.components.attoseconds) / 1e15 + Double(elapsed.components.seconds) * 1000
                    print("\(entry.name) \(version.token) \(String(format: "%.2f", ms))ms")
                } catch {
                    writeStderr("error: \(entry.name): \(error)\n")
                    failed = true
                }
            }
            await pool.shutdown()
            if failed { throw ExitCode.failure }
        } catch let error as DecodingError {
            writeStderr("error: \(config): \(describe(error))\n")
            throw ExitCode.failure
        } catch let error as ExitCode {
            throw error
        } catch {
            writeStderr("error: \(error)\n")
            throw ExitCode.failure
        }
    }
}

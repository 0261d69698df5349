import ArgumentParser

/// `analytics-cache-bench …`: benchmarks that print ratios against a baseline measured in the same run.
@main
struct BenchCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "analytics-cache-bench",
        abstract: "Run a benchmark and print ratios against a baseline measured in the same run.",
        subcommands: [DuckDBBench.self, CacheBench.self, FormatBench.self, DiskBench.self, EventsBench.self, RemoteBench.self, LayersBench.self, NodesBench.self]
    )
}


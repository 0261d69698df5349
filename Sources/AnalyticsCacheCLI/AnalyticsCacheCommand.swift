import ArgumentParser

/// `analytics-cache`: the command-line tool.
@main
struct AnalyticsCacheCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "analytics-cache",
        abstract: "Serve expensive DuckDB analytics queries from a layered cache.",
        subcommands: [QueryCommand.self, DataVersionCommand.self, SimulateCommand.self, ServeCommand.self, DemoEventsCommand.self, WarmCommand.self, InvalidateCommand.self, StatsCommand.self, CheckConfigCommand.self, RebuildProjectionsCommand.self]
    )
}

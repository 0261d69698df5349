import DuckDBClient
import EventLogCore

/// How one kind of event changes DuckDB tables: the event types it handles, the SQL that creates
/// its tables, and how an event becomes rows.
///
/// The SQL and table names are the developer's; event data reaches DuckDB only as bound parameters
/// or appended values, never as SQL text.
public struct Projection: Sendable {
    /// How an event is applied.
    public enum Apply: Sendable {
        /// Runs `sql` once per event with the parameters `parameters` derives from it (an UPSERT,
        /// an UPDATE, a DELETE, …).
        case statement(sql: String, parameters: @Sendable (RecordedEvent) throws -> [DuckDBValue])
        /// Appends one row per event to `table` with DuckDB's appender: the fast path for
        /// insert-only fact tables.
        case appender(table: String, row: @Sendable (RecordedEvent) throws -> [DuckDBValue])
    }

    /// A name for logs.
    public var name: String
    /// The event types this projection handles; others pass it by.
    public var eventTypes: Set<String>
    /// Statements that create the projection's tables if they do not exist (run once at setup).
    public var setupSQL: String
    /// How an event becomes rows.
    public var apply: Apply
    /// The tables it writes (lower case), when DuckDB cannot tell (a statement with parameters
    /// other than a SELECT): a cache derives which queries an event type can change from them.
    public var tables: Set<String>?

    /// Creates a projection.
    /// - Parameters:
    ///   - name: a name for logs
    ///   - eventTypes: the event types it handles
    ///   - setupSQL: `CREATE TABLE IF NOT EXISTS …` statements for its tables
    ///   - apply: how an event becomes rows
    ///   - tables: the tables it writes (default: derived — an appender's table, a statement's
    ///     tables as DuckDB lists them)
    public init(name: String, eventTypes: Set<String>, setupSQL: String, apply: Apply, tables: Set<String>? = nil) {
        self.tables = tables.map { Set($0.map { $0.lowercased() }) }
        self.name = name
        self.eventTypes = eventTypes
        self.setupSQL = setupSQL
        self.apply = apply
    }
}

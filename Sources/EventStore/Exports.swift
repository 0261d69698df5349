// The log's types (events, errors, the `EventLog` protocol, subscriptions) live in EventLogCore,
// which has no SQLite in it; users of this SQLite store get them with it.
@_exported import EventLogCore

// A child process for EventStoreTests:
//   event-store-child append STORE FIRST-BATCH BATCH-SIZE COUNT   appends COUNT batches, printing each
//                                                                 batch number after its commit
//   event-store-child project STORE DUCKDB                        runs the projector, printing each
//                                                                 checkpoint after its commit, forever
import DuckDBClient
import EventProjection
import EventStore
import EventWorkload
import Foundation

func say(_ line: String) {
    let text = line + "\n"
    _ = text.withCString { write(1, $0, strlen($0)) }
}

let arguments = CommandLine.arguments
guard arguments.count >= 4 else {
    FileHandle.standardError.write(Data("usage: event-store-child append|project …\n".utf8))
    exit(2)
}
let store = try SQLiteEventStore(path: arguments[2])
switch arguments[1] {
case "append":
    guard arguments.count == 6, let first = Int(arguments[3]), let size = Int(arguments[4]), let count = Int(arguments[5]) else { exit(2) }
    for batch in first..<(first + count) {
        _ = try store.appendSync(EventWorkload.batch(batch, size: size), to: AggregateID(type: "child", id: "a\(batch % 10)"), expectedVersion: .any)
        say(String(batch))
    }
case "project":
    let database = try Database(path: arguments[3])
    let writer = try DuckDBWriter(database: database)
    let projector = Projector(name: "orders", log: store, writer: writer, projections: EventWorkload.projections, batchSize: 37, onCommit: { say(String($0)) })
    try await projector.run()
default:
    exit(2)
}

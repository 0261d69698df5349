import DuckDBClient
import EventLogCore
import EventProjection
import Foundation

extension DeploymentConfig {
    /// The projector's projections: one per statement, in file order, so each event runs its
    /// type's statements in the order written. The first of each config projection creates its
    /// tables.
    public var projectorProjections: [Projection] {
        var result: [Projection] = []
        for projection in projections {
            var setup = projection.tables.map(\.createSQL).joined(separator: ";\n")
            let owned = Set(projection.tables.map(\.name))
            for handler in projection.handlers {
                let schema = events[handler.eventType]?.payload ?? PayloadSchema(fields: [:])
                for (index, template) in handler.statements.enumerated() {
                    result.append(Projection(
                        name: "\(projection.name)/\(handler.eventType)/\(index)", eventTypes: [handler.eventType], setupSQL: setup,
                        apply: .statement(sql: template.sql) { event in
                            let payload = try JSONSerialization.jsonObject(with: Data(event.payload.utf8), options: [.fragmentsAllowed])
                            return template.values(for: event, payload: payload, schema: schema)
                        },
                        tables: template.writtenTable.map { Set([$0]) } ?? owned))
                    setup = ""
                }
            }
            if !setup.isEmpty {
                // Tables without statements still exist (queries may read them).
                result.append(Projection(name: "\(projection.name)/tables", eventTypes: [], setupSQL: setup,
                                         apply: .statement(sql: "SELECT 1") { _ in [] }, tables: owned))
            }
        }
        return result
    }

    /// Every table the projections own, lower case.
    public var projectedTables: [String] { projections.flatMap { $0.tables.map(\.name) } }

    /// The first problem of an event posted as `type` with `payload`, naming the field; nil when it
    /// is accepted. With no `events` section every type is accepted.
    /// - Parameters:
    ///   - type: the event's type
    ///   - payload: its payload (JSON text)
    /// - Returns: the problem
    public func eventProblem(type: String, payload: String) -> String? {
        guard !events.isEmpty else { return nil }
        guard let declared = events[type] else {
            return "type: unknown event type '\(type)' (declared: \(events.keys.sorted().joined(separator: ", ")))"
        }
        guard let parsed = try? JSONSerialization.jsonObject(with: Data(payload.utf8), options: [.fragmentsAllowed]) else {
            return "payload: not JSON"
        }
        return declared.payload.problem(in: parsed)
    }
}

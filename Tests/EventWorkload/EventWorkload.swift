import DuckDBClient
import EventProjection
import EventStore

/// What the event store's process tests share with their child process: the events appended and
/// the projections applied.
public enum EventWorkload {
    /// The `batch`-th append of the killed-appender test: `size` events, all tagged with the batch.
    public static func batch(_ batch: Int, size: Int) -> [NewEvent] {
        (0..<size).map { i in
            NewEvent(type: "Tick", payload: #"{"batch":\#(batch),"index":\#(i)}"#, metadata: #"{"batch":\#(batch)}"#)
        }
    }

    /// The orders appended before the projector test: placed and cancelled orders of 20 customers.
    public static func orders(count: Int) -> [(AggregateID, NewEvent)] {
        (0..<count).map { i in
            let order = AggregateID(type: "order", id: "o\(i / 3)")
            if i % 3 == 2 {
                return (order, NewEvent(type: "OrderCancelled", payload: #"{"reason":"r\#(i)"}"#))
            }
            return (order, NewEvent(type: "OrderPlaced", payload: #"{"customer":"c\#(i % 20)","amount":\#(i % 97 + 1)}"#))
        }
    }

    /// The customer and amount of an `OrderPlaced` payload (written by ``orders(count:)``).
    public static func placed(_ payload: String) -> (customer: String, amount: Int64) {
        // {"customer":"cN","amount":M}
        let parts = payload.split(separator: "\"")
        let customer = parts.count > 3 ? String(parts[3]) : ""
        let amount = Int64(payload.split(separator: ":").last?.dropLast().trimmingPrefix(" ") ?? "") ?? 0
        return (customer, amount)
    }

    /// An appender projection (one fact row per placed order) and a statement projection (an
    /// upsert of per-customer totals, which a duplicate application would inflate).
    public static let projections: [Projection] = [
        Projection(
            name: "order facts", eventTypes: ["OrderPlaced"],
            setupSQL: "CREATE TABLE IF NOT EXISTS order_facts (position BIGINT, order_id VARCHAR, customer VARCHAR, amount BIGINT)",
            apply: .appender(table: "order_facts") { event in
                let (customer, amount) = placed(event.payload)
                return [.int(event.position), .string(event.aggregate.id), .string(customer), .int(amount)]
            }),
        Projection(
            name: "customer totals", eventTypes: ["OrderPlaced", "OrderCancelled"],
            setupSQL: "CREATE TABLE IF NOT EXISTS customer_totals (customer VARCHAR PRIMARY KEY, orders BIGINT, amount BIGINT, cancellations BIGINT)",
            apply: .statement(sql: """
                INSERT INTO customer_totals VALUES (?, ?, ?, ?)
                ON CONFLICT (customer) DO UPDATE SET orders = orders + excluded.orders, amount = amount + excluded.amount,
                    cancellations = cancellations + excluded.cancellations
                """) { event in
                if event.type == "OrderPlaced" {
                    let (customer, amount) = placed(event.payload)
                    return [.string(customer), .int(1), .int(amount), .int(0)]
                }
                return [.string("cancelled"), .int(0), .int(0), .int(1)]
            }),
    ]
}

/// Quoting for the few statements this package composes from *operator configuration* (extension
/// names, secrets, attachments) — never from client input, which is only ever bound as parameters.
enum SQLText {
    /// `'text'` with embedded quotes doubled: a SQL string literal.
    static func literal(_ text: String) -> String {
        "'" + text.replacing("'", with: "''") + "'"
    }

    /// `"name"` with embedded double quotes doubled: a SQL identifier.
    static func identifier(_ name: String) -> String {
        "\"" + name.replacing("\"", with: "\"\"") + "\""
    }

    /// `['a', 'b']`: a list of string literals.
    static func list(_ items: [String]) -> String {
        "[" + items.map(literal).joined(separator: ", ") + "]"
    }

    /// `MAP {'k': 'v', …}`: a map of string literals, keys in sorted order.
    static func map(_ items: [String: String]) -> String {
        "MAP {" + items.sorted { $0.key < $1.key }.map { "\(literal($0.key)): \(literal($0.value))" }
            .joined(separator: ", ") + "}"
    }
}

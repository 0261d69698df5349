import Foundation
import Yams

/// Reading configuration documents (JSON or YAML) strictly: a YAML document whose mapping keys are
/// not all scalars is refused before Yams constructs it (Yams traps on such keys), and unknown keys
/// are found by walking the parsed tree against the keys each place allows.
public enum ConfigDocument {
    /// Parses YAML (or JSON, which YAML's parser reads too) into dictionaries, arrays and scalars.
    /// - Parameter text: the document
    /// - Returns: the tree (nil for an empty document)
    /// - Throws: ``ConfigDocumentError`` when it does not parse, or has a non-scalar mapping key
    public static func load(yaml text: String) throws -> Any? {
        let node: Node?
        do { node = try Yams.compose(yaml: text) } catch { throw ConfigDocumentError("the document does not parse: \(error)") }
        if let node { try checkScalarKeys(node, path: "") }
        do { return try Yams.load(yaml: text) } catch { throw ConfigDocumentError("the document does not parse: \(error)") }
    }

    private static func checkScalarKeys(_ node: Node, path: String) throws {
        switch node {
        case .mapping(let mapping):
            for (key, value) in mapping {
                guard case .scalar(let scalar) = key else {
                    throw ConfigDocumentError("\(path.isEmpty ? "the document" : path): a key must be text, not a list or a mapping")
                }
                try checkScalarKeys(value, path: path.isEmpty ? scalar.string : path + "." + scalar.string)
            }
        case .sequence(let sequence):
            for (index, item) in sequence.enumerated() { try checkScalarKeys(item, path: "\(path)[\(index)]") }
        case .scalar, .alias:
            break
        }
    }

    /// The first key of `mapping` not in `known`, as an error naming its place.
    /// - Parameters:
    ///   - mapping: a parsed mapping
    ///   - known: the keys allowed there
    ///   - path: where it is (`queries[2].expiry`), for the message
    /// - Throws: ``ConfigDocumentError`` naming the unknown key and the known ones
    public static func refuseUnknownKeys(_ mapping: [String: Any], known: Set<String>, at path: String) throws {
        if let unknown = mapping.keys.filter({ !known.contains($0) }).sorted().first {
            let place = path.isEmpty ? unknown : path + "." + unknown
            throw ConfigDocumentError("\(place): unknown key (known: \(known.sorted().joined(separator: ", ")))")
        }
    }
}

/// A configuration document that cannot be used; the message names the place.
public struct ConfigDocumentError: Error, Sendable, CustomStringConvertible {
    /// What is wrong, and where.
    public var description: String
    init(_ description: String) { self.description = description }
}

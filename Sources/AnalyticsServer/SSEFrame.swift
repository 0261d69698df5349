/// One Server-Sent Events frame, framed by the rules of the EventSource format: an `id:`, an
/// `event:`, each line of the data on its own `data:` line (a line break inside the data never
/// ends the frame early), and a blank line. Pure: no I/O.
public struct SSEFrame: Sendable, Equatable {
    /// The event's id (what a client sends back as `Last-Event-ID`); no line breaks.
    public var id: String?
    /// The event's type (`message` when nil).
    public var event: String?
    /// The data.
    public var data: String

    /// - Parameters:
    ///   - id: the id
    ///   - event: the type
    ///   - data: the data
    public init(id: String? = nil, event: String? = nil, data: String) {
        self.id = id
        self.event = event
        self.data = data
    }

    /// The frame's bytes.
    public var encoded: [UInt8] {
        var text = ""
        if let id { text += "id: " + Self.oneLine(id) + "\n" }
        if let event { text += "event: " + Self.oneLine(event) + "\n" }
        // CRLF, CR and LF all end lines for a client: each becomes a new data line.
        let normalised = data.replacingOccurrences(of: "\r\n", with: "\n").replacingOccurrences(of: "\r", with: "\n")
        for line in normalised.split(separator: "\n", omittingEmptySubsequences: false) { text += "data: " + line + "\n" }
        text += "\n"
        return Array(text.utf8)
    }

    /// A comment frame (ignored by clients; keeps idle connections open).
    public static func comment(_ text: String) -> [UInt8] { Array((": " + oneLine(text) + "\n\n").utf8) }

    /// `text` with every CR, LF and NUL a space: by Unicode scalar, since "\r\n" is one Swift
    /// `Character` that is neither "\r" nor "\n".
    static func oneLine(_ text: String) -> String {
        var scalars = String.UnicodeScalarView()
        for scalar in text.unicodeScalars { scalars.append(scalar == "\n" || scalar == "\r" || scalar == "\0" ? " " : scalar) }
        return String(scalars)
    }
}

/// The id of an SSE event: the bus's epoch and the sequence of the last update the client has
/// been given. A `Last-Event-ID` of another epoch (another process) cannot be resumed.
struct StreamPosition: Equatable {
    var epoch: String
    var sequence: UInt64

    var text: String { epoch + "-" + String(sequence) }

    init(epoch: String, sequence: UInt64) {
        self.epoch = epoch
        self.sequence = sequence
    }

    init?(_ text: String?) {
        guard let text, let dash = text.lastIndex(of: "-"), let sequence = UInt64(text[text.index(after: dash)...]) else { return nil }
        epoch = String(text[..<dash])
        self.sequence = sequence
    }
}

import HTTPTypes

extension HTTPField.Name {
    // Literal names, valid by construction (checked once, not per request).
    /// `X-Cache`: which layer served a result.
    static let xCache = HTTPField.Name("X-Cache")!
    /// `Server-Timing`: the result's compute time and layer.
    static let serverTiming = HTTPField.Name("Server-Timing")!
    /// `X-Event-Position`: the last position of an append.
    static let xEventPosition = HTTPField.Name("X-Event-Position")!
    /// `X-Min-Position`: a causal read token (the answer reflects the log through it).
    static let xMinPosition = HTTPField.Name("X-Min-Position")!
    /// `Last-Event-ID`: where an SSE client resumes.
    static let lastEventID = HTTPField.Name("Last-Event-ID")!
    /// `X-Accel-Buffering`: tells nginx not to buffer a stream.
    static let xAccelBuffering = HTTPField.Name("X-Accel-Buffering")!
}

extension AnalyticsCache {
    /// One request to warm.
    public struct WarmRequest: Sendable {
        public var query: String
        public var parameters: [String: ParameterValue]
        public var scope: ScopeValue

        /// - Parameters:
        ///   - query: the query's id
        ///   - parameters: its parameters
        ///   - scope: the tenant or user
        public init(query: String, parameters: [String: ParameterValue] = [:], scope: ScopeValue = .none) {
            self.query = query
            self.parameters = parameters
            self.scope = scope
        }
    }

    /// What a warm-up did.
    public struct WarmReport: Sendable, Equatable {
        /// Requests now cached (computed, or found in L1 or L2).
        public var warmed = 0
        /// Requests that failed, with their errors' descriptions.
        public var failures: [String] = []
    }

    /// Runs requests into L1 and L2 ahead of the dashboards (after a deploy, before opening the
    /// doors), a few at a time; a failing request is reported and the others go on.
    /// - Parameters:
    ///   - requests: what to warm
    ///   - concurrency: requests at once (default 2)
    ///   - progress: called after each request with (done, total)
    /// - Returns: what was warmed and what failed
    public func warm(
        _ requests: [WarmRequest], concurrency: Int = 2, progress: @escaping @Sendable (Int, Int) -> Void = { _, _ in }
    ) async -> WarmReport {
        var report = WarmReport()
        var done = 0
        await withTaskGroup(of: String?.self) { group in
            var next = 0
            func launch() {
                guard next < requests.count else { return }
                let request = requests[next]
                next += 1
                group.addTask {
                    do {
                        _ = try await self.result(for: request.query, parameters: request.parameters, scope: request.scope)
                        return nil
                    } catch {
                        return "\(request.query): \(error)"
                    }
                }
            }
            for _ in 0..<max(1, concurrency) { launch() }
            for await failure in group {
                done += 1
                if let failure { report.failures.append(failure) } else { report.warmed += 1 }
                progress(done, requests.count)
                launch()
            }
        }
        return report
    }
}

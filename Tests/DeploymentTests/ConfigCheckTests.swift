import Deployment
import Foundation
import Testing

/// `check-config`'s rules: each kind of mistake is refused with a message naming it and its line.
@Suite struct ConfigCheckTests {
    static let valid = """
        events:
          PageViewed:
            payload:
              path: string
              userId: string
              durationMs: integer?
        projections:
          - name: views
            tables:
              page_views: "path VARCHAR NOT NULL, user_id VARCHAR, duration_ms BIGINT, viewed_at TIMESTAMP"
            statements:
              PageViewed:
                - INSERT INTO page_views VALUES ($payload.path, $payload.userId, $payload.durationMs, $occurred_at)
        queries:
          - id: top
            sql: SELECT path, count(*) AS n FROM page_views GROUP BY path ORDER BY n DESC LIMIT ?
            parameters: [{name: limit, type: integer, default: "10"}]
        """

    static func check(_ text: String) -> ConfigCheck {
        ConfigCheck.run(DeploymentConfig(text: text, directory: URL(fileURLWithPath: NSTemporaryDirectory())))
    }

    @Test func theValidConfigPassesAndItsGraphRunsFromQueryToEventType() {
        let check = Self.check(Self.valid)
        #expect(check.problems.isEmpty, "\(check.problems)")
        #expect(check.graphText.contains("query top") && check.graphText.contains("reads page_views <- projection views <- events PageViewed"), "\(check.graphText)")
    }

    @Test(arguments: [
        ("bad SQL", "INSERT INTO page_views VALUES", "INSERT INTO page_views VALUS", "syntax error"),
        ("an unknown event field", "$payload.userId", "$payload.user", "$payload.user: event type PageViewed declares no such payload field"),
        ("a projection writing an undeclared table", "INSERT INTO page_views VALUES", "INSERT INTO visits VALUES", "visits"),
        ("a query reading an unknown table", "FROM page_views GROUP BY", "FROM pageviews GROUP BY", "pageviews"),
        ("a parameter type mismatch", "{name: limit, type: integer, default: \"10\"}", "{name: limit, type: text}", "parameter limit is declared text"),
        ("a payload type mismatch", "durationMs: integer?", "durationMs: string?", "$payload.durationMs is a string"),
        ("a duplicate id", "queries:\n  - id: top", "queries:\n  - id: top\n    sql: SELECT 1 AS one\n  - id: top", "duplicate query id 'top'"),
        ("an unknown event type", "    statements:\n      PageViewed:", "    statements:\n      PageVisited:", "unknown event type 'PageVisited'"),
        ("a SELECT as projection statement", "- INSERT INTO page_views VALUES ($payload.path, $payload.userId, $payload.durationMs, $occurred_at)",
         "- SELECT $payload.path", "must be an INSERT, UPDATE or DELETE"),
        ("a schema-qualified table", "INSERT INTO page_views VALUES", "INSERT INTO main.page_views VALUES", "write table names unqualified"),
        ("a bare placeholder", "$payload.durationMs, $occurred_at)", "?, $occurred_at)", "placeholder(s)"),
        ("an unknown key", "    tables:", "    tabels: {}\n    tables:", "tabels: unknown key"),
    ])
    func eachInvalidConfigIsRefusedNamingTheProblem(what: String, replace: String, with: String, expected: String) {
        let text = Self.valid.replacingOccurrences(of: replace, with: with)
        #expect(text != Self.valid, "the case \(what) changes the file")
        let check = Self.check(text)
        #expect(!check.isValid, "\(what) was accepted")
        #expect(check.problems.contains { $0.description.contains(expected) }, "\(what): \(check.problems.map(\.description))")
        #expect(check.problems.allSatisfy { $0.line != nil }, "\(what): every problem has its line: \(check.problems.map(\.description))")
    }

    @Test func payloadsAreCheckedFieldByField() {
        let config = DeploymentConfig(text: Self.valid, directory: URL(fileURLWithPath: "/"))
        #expect(config.eventProblem(type: "PageViewed", payload: #"{"path":"/","userId":"u"}"#) == nil)
        #expect(config.eventProblem(type: "PageViewed", payload: #"{"path":"/","userId":"u","durationMs":null,"extra":1}"#) == nil)
        #expect(config.eventProblem(type: "PageViewed", payload: #"{"userId":"u"}"#)?.hasPrefix("payload.path:") == true)
        #expect(config.eventProblem(type: "PageViewed", payload: #"{"path":1,"userId":"u"}"#)?.hasPrefix("payload.path:") == true)
        #expect(config.eventProblem(type: "PageViewed", payload: #"{"path":"/","userId":"u","durationMs":1.5}"#)?.hasPrefix("payload.durationMs:") == true)
        #expect(config.eventProblem(type: "PageViewed", payload: #"{"path":"/","userId":"u","durationMs":true}"#)?.hasPrefix("payload.durationMs:") == true)
        #expect(config.eventProblem(type: "Other", payload: "{}")?.contains("unknown event type") == true)
    }

    @Test func aTimestampBeyondSixtyFourBitMicrosecondsIsRefusedNotTrappedOn() {
        let schema = PayloadSchema(fields: ["at": PayloadSchema.Field(.timestamp)])
        #expect(schema.problem(in: ["at": "2026-11-30T10:00:00Z"]) == nil)
        #expect(schema.problem(in: ["at": "2026-11-30T10:00:00.123456+01:00"]) == nil)
        #expect(schema.problem(in: ["at": "294248-01-01T00:00:00Z"]) != nil, "beyond Int64 microseconds (year 294247)")
        #expect(schema.problem(in: ["at": "999999999-01-01T00:00:00Z"]) != nil)
        #expect(schema.problem(in: ["at": "2026-11-30 10:00"]) != nil, "no zone")
        let dates = PayloadSchema(fields: ["day": PayloadSchema.Field(.date)])
        #expect(dates.problem(in: ["day": "2024-02-29"]) == nil)
        #expect(dates.problem(in: ["day": "2023-02-29"]) != nil && dates.problem(in: ["day": "2024-2-9"]) != nil)
        #expect(PayloadSchema.value(at: ["day"], as: .date, in: ["day": "1970-01-02"]) == .date(days: 1))
    }
}

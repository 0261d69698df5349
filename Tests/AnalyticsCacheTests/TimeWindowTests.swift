import CacheTestSupport
import AnalyticsCache
import EventStore
import Foundation
import MemoryCache
import Testing
import TestSupport

/// Results over the current time expire at their window's end; results over an event-time range
/// are left alone by events outside it.
@Suite struct TimeWindowTests {
    static func date(_ text: String) -> Date { ISO8601DateFormatter().date(from: text)! }

    @Test func windowBoundariesFollowTheCalendarInTheirTimeZone() {
        let at = Self.date("2026-03-08T05:30:00Z")  // a Sunday; 00:30 in New York, before its DST switch
        #expect(CalendarWindow(.day).nextBoundary(after: at) == Self.date("2026-03-09T00:00:00Z"))
        #expect(CalendarWindow(.hour).nextBoundary(after: at) == Self.date("2026-03-08T06:00:00Z"))
        #expect(CalendarWindow(.minute).nextBoundary(after: at) == Self.date("2026-03-08T05:31:00Z"))
        #expect(CalendarWindow(.week).nextBoundary(after: at) == Self.date("2026-03-09T00:00:00Z"))  // ISO weeks start Monday
        #expect(CalendarWindow(.month).nextBoundary(after: at) == Self.date("2026-04-01T00:00:00Z"))
        // New York's day of 2026-03-08 has 23 hours: it ends at 04:00Z, not 05:00Z.
        #expect(CalendarWindow(.day, timeZone: "America/New_York").nextBoundary(after: at) == Self.date("2026-03-09T04:00:00Z"))
        #expect(CalendarWindow(.day, timeZone: "Nowhere/Else").nextBoundary(after: at) == nil)
        // Exactly on a boundary: the next one.
        #expect(CalendarWindow(.day).nextBoundary(after: Self.date("2026-03-09T00:00:00Z")) == Self.date("2026-03-10T00:00:00Z"))
    }

    @Test func aResultOverTodayExpiresAtMidnightNotBefore() async throws {
        let clock = ManualCacheClock(wallClockOrigin: Self.date("2026-05-01T23:00:00Z"))
        let harness = try await Harness(disk: false, clock: clock)
        defer { TestSupport.remove(harness.root) }
        try await harness.cache.register(QueryDefinition(
            id: "today", sql: "SELECT count(*) AS n FROM orders", expiry: .window(CalendarWindow(.day))))
        #expect(try await harness.cache.result(for: "today").servedBy == .computed)
        clock.advance(by: .seconds(3_599))  // 23:59:59
        #expect(try await harness.cache.result(for: "today").servedBy == .l1)
        clock.advance(by: .seconds(1))  // midnight
        #expect(try await harness.cache.result(for: "today").servedBy == .computed)
        await #expect(throws: AnalyticsCacheError.self) {
            try await harness.cache.register(QueryDefinition(id: "bad", sql: "SELECT 1", expiry: .window(CalendarWindow(.day, timeZone: "Mars/Base"))))
        }
        await harness.shutdown()
    }

    @Test func eventsOutsideAResultsEventTimeRangeLeaveIt() async throws {
        let harness = try await Harness()
        defer { TestSupport.remove(harness.root) }
        try await harness.cache.register(QueryDefinition(
            id: "days", sql: "SELECT count(*) AS n FROM orders WHERE occurred_at >= epoch_us(?::DATE) AND occurred_at < epoch_us(?::DATE)",
            parameters: [ParameterSpec("from", .date), ParameterSpec("to", .date)],
            eventTime: EventTimeRange(from: "from", to: "to")))
        let day: Int64 = 86_400_000_000
        let request: [String: ParameterValue] = ["from": .date(10), "to": .date(12)]
        try await harness.running {
            #expect(try Harness.integer(try await harness.cache.result(for: "days", parameters: request)) == 0)
            // Day 20: outside [10, 12): the entry stays.
            _ = try await harness.cache.append([Harness.order(tenant: "t", at: 20 * day)], to: AggregateID(type: "Customer", id: "c"), expectedVersion: .any)
            let kept = try await harness.cache.result(for: "days", parameters: request)
            #expect(kept.servedBy == .l1)
            #expect(try Harness.integer(kept) == 0)
            // Day 11, the last hour: inside.
            _ = try await harness.cache.append([Harness.order(tenant: "t", at: 12 * day - 1)], to: AggregateID(type: "Customer", id: "c"), expectedVersion: .any)
            let fresh = try await harness.cache.result(for: "days", parameters: request)
            // Computed after the invalidation (or joined the background refresh it started).
            #expect(fresh.servedBy == .computed || fresh.servedBy == .joined)
            #expect(try Harness.integer(fresh) == 1)
            // Day 12 is outside the half-open range.
            _ = try await harness.cache.append([Harness.order(tenant: "t", at: 12 * day)], to: AggregateID(type: "Customer", id: "c"), expectedVersion: .any)
            #expect(try await harness.cache.result(for: "days", parameters: request).servedBy == .l1)
        }
        await #expect(throws: AnalyticsCacheError.self) {
            try await harness.cache.register(QueryDefinition(id: "bad", sql: "SELECT 1 AS n", parameters: [ParameterSpec("from", .text)],
                                                             eventTime: EventTimeRange(from: "from", to: "to")))
        }
        await harness.shutdown()
    }

    @Test func aResultWhoseWindowEndIsAParameterExpiresWhenItCloses() async throws {
        let clock = ManualCacheClock(wallClockOrigin: Self.date("2026-05-01T12:00:00Z"))
        let harness = try await Harness(disk: false, clock: clock)
        defer { TestSupport.remove(harness.root) }
        try await harness.cache.register(QueryDefinition(
            id: "until", sql: "SELECT count(*) + 0 * epoch_us(?::DATE) AS n FROM orders", parameters: [ParameterSpec("to", .date)],
            expiry: .untilParameter("to")))
        let tomorrow: [String: ParameterValue] = ["to": .date(Int32(Self.date("2026-05-02T00:00:00Z").timeIntervalSince1970 / 86_400))]
        let closed: [String: ParameterValue] = ["to": .date(Int32(Self.date("2026-04-01T00:00:00Z").timeIntervalSince1970 / 86_400))]
        #expect(try await harness.cache.result(for: "until", parameters: tomorrow).servedBy == .computed)
        #expect(try await harness.cache.result(for: "until", parameters: closed).servedBy == .computed)
        clock.advance(by: .seconds(12 * 3_600 - 1))
        #expect(try await harness.cache.result(for: "until", parameters: tomorrow).servedBy == .l1)
        clock.advance(by: .seconds(1))  // the window closed: computed once more, then final
        #expect(try await harness.cache.result(for: "until", parameters: tomorrow).servedBy == .computed)
        clock.advance(by: .seconds(86_400 * 30))
        #expect(try await harness.cache.result(for: "until", parameters: tomorrow).servedBy == .l1)
        #expect(try await harness.cache.result(for: "until", parameters: closed).servedBy == .l1)
        await #expect(throws: AnalyticsCacheError.self) {
            try await harness.cache.register(QueryDefinition(id: "bad", sql: "SELECT 1 AS n", expiry: .untilParameter("missing")))
        }
        await harness.shutdown()
    }
}

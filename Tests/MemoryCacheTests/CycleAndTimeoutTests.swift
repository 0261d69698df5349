import Synchronization
import TestSupport
import Testing

@testable import MemoryCache

/// Issue 11, defect 8: loads that need each other, and a caller's own wait limit.
@Suite struct CycleAndTimeoutTests {
    @Test func loadsThatWaitForEachOtherFailInsteadOfHanging() async throws {
        let cache = MemoryCache<String, Int>(maximumCount: 10)
        let bothRunning = AsyncGate()
        let started = CallCounter()
        @Sendable func load(_ key: String, needs other: String) async throws -> Int {
            try await cache.value(forKey: key, orLoadValue: {
                if started.increment() == 2 { bothRunning.open() }
                try await bothRunning.wait()
                return try await cache.value(forKey: other, orLoadValue: { 0 }) + 1
            })
        }
        async let x = attempt { try await load("X", needs: "Y") }
        async let y = attempt { try await load("Y", needs: "X") }
        let results = await [x, y]
        let cycles = results.filter {
            if case .failure(let error as MemoryCacheError) = $0, case .loadCycle = error { return true }
            return false
        }
        #expect(cycles.count >= 1, "\(results)")
        // The cycle is broken, so whatever did not fail finished.
        #expect(results.allSatisfy { if case .failure(let e) = $0 { return e is MemoryCacheError } else { return true } })
    }

    @Test func aCycleAcrossTwoCachesIsDetectedToo() async throws {
        let a = MemoryCache<String, Int>(maximumCount: 10)
        let b = MemoryCache<String, Int>(maximumCount: 10)
        let bothRunning = AsyncGate()
        let started = CallCounter()
        async let x = attempt {
            try await a.value(forKey: "k", orLoadValue: {
                if started.increment() == 2 { bothRunning.open() }
                try await bothRunning.wait()
                return try await b.value(forKey: "k", orLoadValue: { 1 })
            })
        }
        async let y = attempt {
            try await b.value(forKey: "k", orLoadValue: {
                if started.increment() == 2 { bothRunning.open() }
                try await bothRunning.wait()
                return try await a.value(forKey: "k", orLoadValue: { 2 })
            })
        }
        let results = await [x, y]
        #expect(results.contains {
            if case .failure(let error as MemoryCacheError) = $0, case .loadCycle = error { return true }
            return false
        })
    }

    @Test func aLoaderWaitingForAnUnrelatedLoadIsNotACycle() async throws {
        let cache = MemoryCache<String, Int>(maximumCount: 10)
        let gate = AsyncGate()
        let slow = Task { try await cache.value(forKey: "Y", orLoadValue: { try await gate.wait(); return 5 }) }
        await eventually("Y loads") { cache.waitersForLoad(forKey: "Y") == 1 }
        let x = Task { try await cache.value(forKey: "X", orLoadValue: { try await cache.value(forKey: "Y", orLoadValue: { 0 }) + 1 }) }
        await eventually("X's loader waits for Y") { cache.waitersForLoad(forKey: "Y") == 2 }
        gate.open()
        let (xv, sv) = (try await x.value, try await slow.value)
        #expect(xv == 6 && sv == 5)
    }

    @Test func aCallersTimeoutEndsOnlyItsOwnWait() async throws {
        let cache = MemoryCache<String, Int>(maximumCount: 10)
        let gate = AsyncGate()
        let patient = Task { try await cache.lookup("k") { try await gate.wait(); return Loaded(1) } }
        await eventually("the load runs") { cache.waitersForLoad(forKey: "k") == 1 }
        await #expect(throws: MemoryCacheError.loadTimedOut(key: "k", after: .milliseconds(20))) {
            try await cache.lookup("k", timeout: .milliseconds(20)) { Loaded(2) }
        }
        #expect(gate.cancellations == 0, "the load was cancelled although a caller still waits")
        gate.open()
        #expect(try await patient.value.value == 1)
    }

    @Test func aTimedOutLastWaiterAbandonsTheLoad() async throws {
        let cache = MemoryCache<String, Int>(maximumCount: 10)
        let gate = AsyncGate()
        await #expect(throws: MemoryCacheError.self) {
            try await cache.lookup("k", timeout: .milliseconds(20)) { try await gate.wait(); return Loaded(1) }
        }
        await eventually("the loader is cancelled") { gate.cancellations == 1 }
        #expect(try await cache.lookup("k") { Loaded(2) }.outcome == .loaded)
    }
}

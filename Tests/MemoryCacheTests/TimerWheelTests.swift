import Testing

@testable import MemoryCache

@Suite struct TimerWheelTests {
    @Test(arguments: [UInt64(3), 11, 2024])
    func advanceReturnsExactlyTheDueSlotsAtEveryTimeScale(seed: UInt64) {
        var rng = SplitMix64(seed: seed)
        var wheel = TimerWheel(now: 0)
        var model: [Int32: Int64] = [:]
        var now: Int64 = 0
        let second: Int64 = 1_000_000_000
        let spans: [Int64] = [second / 1000, second, 60 * second, 3600 * second, 86_400 * second, 10 * 86_400 * second]
        for _ in 0..<3000 {
            let slot = Int32(rng.next() % 300)
            switch rng.next() % 4 {
            case 0, 1:
                let span = spans[Int(rng.next() % UInt64(spans.count))]
                let due = now + Int64(rng.next() % UInt64(span))
                wheel.schedule(slot, at: due)
                model[slot] = due
            case 2:
                wheel.deschedule(slot)
                model[slot] = nil
            default:
                let span = spans[Int(rng.next() % UInt64(spans.count))]
                now += Int64(rng.next() % UInt64(span))
                let expired = Set(wheel.advance(to: now))
                let expected = Set(model.filter { $0.value <= now }.keys)
                #expect(expired == expected)
                for slot in expected { model[slot] = nil }
            }
            #expect(wheel.count == model.count)
        }
        // Far in the future everything left is due.
        let rest = Set(wheel.advance(to: now + 400 * 86_400 * second))
        #expect(rest == Set(model.keys))
        #expect(wheel.count == 0)
    }

    @Test func rescheduleMovesATimer() throws {
        var wheel = TimerWheel(now: 0)
        wheel.schedule(1, at: 5_000_000_000)
        wheel.schedule(1, at: 90_000_000_000)
        #expect(wheel.advance(to: 10_000_000_000).isEmpty)
        #expect(wheel.advance(to: 90_000_000_000) == [1])
        #expect(!wheel.isScheduled(1))
    }
}

/// A hierarchical timer wheel: schedules expiry times for slots and finds the expired ones in O(1)
/// amortised per entry, instead of scanning or keeping a priority queue.
///
/// Five wheels of buckets cover growing spans (≈1.07 s, 1.14 min, 1.22 h, 1.63 d and 6.5 d per
/// bucket, as in Caffeine's design): a timer sits in the coarsest wheel that still distinguishes its
/// time; when that bucket's turn comes, timers not yet due cascade to a finer wheel. Each timer
/// moves at most once per wheel, so scheduling, cancelling and expiring are O(1) amortised.
///
/// Slots are the policy's slab indices; times are nanoseconds of the cache's clock. The wheel
/// has no locks and does no I/O.
@usableFromInline package struct TimerWheel: Sendable {
    @usableFromInline package typealias Slot = Int32

    static let buckets = [64, 64, 32, 4, 1]
    static let spans: [Int64] = [1 << 30, 1 << 36, 1 << 42, 1 << 47, 1 << 49, 1 << 49]
    static let shifts: [Int64] = spans.map { Int64($0.trailingZeroBitCount) }

    // Per slot: list links, due time and bucket; per bucket: head and tail of its list.
    private var prev: [Slot] = []
    private var next: [Slot] = []
    private var due: [Int64] = []
    private var scheduled: [Bool] = []
    private var slotBucket: [Int32] = []
    private var bucketHead: [Slot]
    private var bucketTail: [Slot]
    private var bucketBase: [Int]
    /// The wheel's current time.
    @usableFromInline package private(set) var now: Int64
    /// The number of scheduled slots.
    @usableFromInline package private(set) var count = 0

    /// Creates an empty wheel.
    /// - Parameter now: the clock's current time in nanoseconds
    @usableFromInline package init(now: Int64) {
        self.now = now
        var base: [Int] = []
        var total = 0
        for b in Self.buckets {
            base.append(total)
            total += b
        }
        bucketBase = base
        bucketHead = Array(repeating: -1, count: total)
        bucketTail = Array(repeating: -1, count: total)
    }

    /// Whether a slot is scheduled.
    @usableFromInline package func isScheduled(_ slot: Slot) -> Bool {
        Int(slot) < scheduled.count && scheduled[Int(slot)]
    }

    /// Schedules (or reschedules) a slot to expire at `time`.
    /// - Parameters:
    ///   - slot: the slot
    ///   - time: its due time in nanoseconds
    /// - Complexity: O(1)
    @usableFromInline package mutating func schedule(_ slot: Slot, at time: Int64) {
        let i = Int(slot)
        if i >= due.count {
            let grow = i + 1 - due.count
            prev.append(contentsOf: repeatElement(-1, count: grow))
            next.append(contentsOf: repeatElement(-1, count: grow))
            due.append(contentsOf: repeatElement(0, count: grow))
            scheduled.append(contentsOf: repeatElement(false, count: grow))
            slotBucket.append(contentsOf: repeatElement(-1, count: grow))
        }
        if scheduled[i] { unlink(slot) }
        due[i] = time
        link(slot, bucket: bucket(for: time))
    }

    /// Cancels a slot's timer, if any.
    /// - Parameter slot: the slot
    /// - Complexity: O(1)
    @usableFromInline package mutating func deschedule(_ slot: Slot) {
        guard isScheduled(slot) else { return }
        unlink(slot)
    }

    /// The due time of a scheduled slot.
    @usableFromInline package func dueTime(of slot: Slot) -> Int64? { isScheduled(slot) ? due[Int(slot)] : nil }

    /// Advances to `time` and returns every slot due by then (descheduled).
    /// - Parameter time: the clock's current time
    /// - Returns: the due slots
    /// - Complexity: O(expired + cascaded timers + buckets passed)
    @usableFromInline package mutating func advance(to time: Int64) -> [Slot] {
        var expired: [Slot] = []
        advance(to: time) { expired.append($0) }
        return expired
    }

    private mutating func advance(to time: Int64, _ expire: (Slot) -> Void) {
        guard time >= now else { return }
        let previous = now
        now = time
        for level in 0..<Self.buckets.count {
            let previousTicks = previous >> Self.shifts[level]
            let currentTicks = time >> Self.shifts[level]
            let delta = currentTicks - previousTicks
            if delta <= 0 { break }
            expireBuckets(level: level, fromTick: previousTicks, delta: delta, expire)
        }
        // Timers due earlier within the current finest tick: exact expiry, not up to a tick late.
        let bucket = bucketBase[0] + Int((time >> Self.shifts[0]) & Int64(Self.buckets[0] - 1))
        var slot = bucketHead[bucket]
        while slot != -1 {
            let following = next[Int(slot)]
            if due[Int(slot)] <= time {
                unlink(slot)
                expire(slot)
            }
            slot = following
        }
    }

    private mutating func expireBuckets(level: Int, fromTick: Int64, delta: Int64, _ expire: (Slot) -> Void) {
        let size = Self.buckets[level]
        let mask = Int64(size - 1)
        let steps = Int(min(delta + 1, Int64(size)))
        let start = Int(fromTick & mask)
        for step in 0..<steps {
            let bucket = bucketBase[level] + (start + step) & Int(mask)
            // Take the bucket's list; re-file what is not yet due.
            var slot = bucketHead[bucket]
            bucketHead[bucket] = -1
            bucketTail[bucket] = -1
            while slot != -1 {
                let i = Int(slot)
                let following = next[i]
                prev[i] = -1
                next[i] = -1
                scheduled[i] = false
                slotBucket[i] = -1
                count -= 1
                if due[i] <= now {
                    expire(slot)
                } else {
                    link(slot, bucket: self.bucket(for: due[i]))
                }
                slot = following
            }
        }
    }

    private func bucket(for time: Int64) -> Int {
        let duration = time <= now ? 0 : time &- now  // no overflow: time > now
        for level in 0..<(Self.buckets.count - 1) where duration < Self.spans[level + 1] {
            let ticks = max(time, now) >> Self.shifts[level]
            return bucketBase[level] + Int(ticks & Int64(Self.buckets[level] - 1))
        }
        return bucketBase[Self.buckets.count - 1]
    }

    private mutating func link(_ slot: Slot, bucket: Int) {
        let i = Int(slot)
        prev[i] = bucketTail[bucket]
        next[i] = -1
        if bucketTail[bucket] != -1 { next[Int(bucketTail[bucket])] = slot } else { bucketHead[bucket] = slot }
        bucketTail[bucket] = slot
        scheduled[i] = true
        slotBucket[i] = Int32(bucket)
        count += 1
    }

    private mutating func unlink(_ slot: Slot) {
        let i = Int(slot)
        guard scheduled[i] else { return }
        let bucket = Int(slotBucket[i])
        let p = prev[i]
        let n = next[i]
        if p != -1 { next[Int(p)] = n } else { bucketHead[bucket] = n }
        if n != -1 { prev[Int(n)] = p } else { bucketTail[bucket] = p }
        prev[i] = -1
        next[i] = -1
        scheduled[i] = false
        slotBucket[i] = -1
        count -= 1
    }
}

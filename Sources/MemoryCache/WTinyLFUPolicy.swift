/// The eviction policy of ``MemoryCache``: adaptive Window TinyLFU, as a pure value type.
///
/// Entries live in three LRU queues: a small admission **window**, and a segmented main space of
/// **probation** and **protected** entries. New entries enter the window; when it overflows, its
/// least recently used entries become candidates for the main space, where each is admitted only
/// if the ``FrequencySketch`` says it is more popular than the main space's victim (with a 1-in-128
/// random admission of warm candidates, so an attacker cannot pin the cache with crafted
/// collisions). An entry read in probation moves to protected; protected overflow is demoted back.
/// The window's size is chosen by a ``ShadowClimber``: ten small shadow W-TinyLFU caches with
/// fixed windows (1 % … 99.9 %) replay a hashed sample of the requests, and the real window moves
/// to the share of the shadow with the most (decayed) hits, with a little hysteresis and a
/// charge for distant moves. Recency-biased workloads (loops of a size the cache can hold,
/// LRU-friendly traces) so get a 95–99.9 % window within one period, frequency-biased ones a small
/// one, without the hill climber's slow, noisy walk. A candidate heavier than the victim it duels
/// is admitted only if it outranks every probation victim it would displace.
///
/// Reads of an entry in the window count in the sketch at most twice per stay there: a burst of
/// reads right after insertion is recency, not popularity, and must not buy a place in the main
/// space over steadily popular entries (the first re-reads still count, so a key read again soon
/// gets some credit).
///
/// Sizes in the sketch and the shadows follow the number of entries, never the bound: a policy
/// with `maximum: Int.max` (clamped to 2^62 − 1) costs a few kilobytes while empty, and a byte-weighted cache ages
/// its sketch as a count-bound one of as many entries does; its shadows are weighted (they
/// replay the real weights under a proportionally sampled bound).
///
/// Nodes are kept in a slab (arrays indexed by ``Slot``) rather than as linked objects, so queue
/// operations cost no reference counting; the caller keeps whatever it associates with a slot
/// (its key) in its own array, so this type is not generic and its code is fully specialised. The
/// type performs no I/O and has no locks: the cache calls it under its own lock, and tests drive it
/// directly.
@usableFromInline package struct WTinyLFUPolicy: Sendable {
    /// A node's index in the slab; stable while the node lives.
    @usableFromInline package typealias Slot = Int32

    /// The queue a node is in.
    @usableFromInline package enum Region: UInt8, Sendable {
        case window = 0, probation = 1, protected = 2, free = 3
    }

    /// An entry the policy evicted.
    @usableFromInline package struct Eviction: Sendable, Equatable {
        /// The slot the entry had (already free when returned).
        @usableFromInline package var slot: Slot
        /// Its weight.
        @usableFromInline package var weight: Int
        /// Its key's hash, as given on insert.
        @usableFromInline package var hash: UInt64
    }

    /// A node's links and bookkeeping; kept apart from the payloads so queue operations touch
    /// only this concrete, non-generic array.
    struct Node: Sendable {
        var hash: UInt64
        /// The full weight (an `Int`: a byte-weighted entry may exceed 2 GiB).
        var weight: Int
        var prev: Slot
        var next: Slot
        var region: Region
        /// The reads counted in the sketch during the entry's current stay in the window.
        var counted: UInt8 = 0
    }

    struct Queue: Sendable {
        var head: Slot = -1  // least recently used
        var tail: Slot = -1  // most recently used
        var weight = 0
        var count = 0
    }

    private(set) var nodes: [Node] = []
    private var freeSlots: [Slot] = []
    private var queues = [Queue(), Queue(), Queue()]
    /// The maximum total weight.
    @usableFromInline package let maximum: Int
    /// The window's current share of ``maximum``.
    @usableFromInline package private(set) var windowMaximum: Int
    /// The protected segment's current share of ``maximum``.
    @usableFromInline package private(set) var protectedMaximum: Int
    /// The popularity estimate.
    @usableFromInline package private(set) var sketch: FrequencySketch
    private var random: SplitMix64

    /// The sketch's initial size in entries (it grows with the live entry count).
    static var initialSketchEntries: Int { 64 }
    /// The most entries moved between queues per call when the window is resized.
    static var transferLimit: Int { 1000 }
    /// Protected's share of the main space.
    static var protectedShare: Double { 0.8 }
    /// The most reads of one window stay that count in the sketch.
    static var windowReadCredit: UInt8 { 2 }

    /// The shadow simulations that choose the window (created with the first entry).
    private var shadow: ShadowClimber?
    /// The window size the shadows chose, in weight units; ``windowMaximum`` moves to it in
    /// bounded steps.
    private var windowTarget = 0
    /// Weight still to pull from the main space into a window that grew.
    private var pendingGrow = 0
    /// Whether the shadows' size was checked at half full.
    private var shadowChecked = false
    /// The admission seed, passed on to the shadows.
    private let seed: UInt64
    /// False for a shadow: its window stays where it was created.
    private let adaptive: Bool
    /// Whether the policy ever evicted an entry (it has been full).
    private(set) var hasEvicted = false

    /// The largest bound honoured (2^62 − 1); larger ones count as this, so the total before an
    /// eviction (bound plus one entry no heavier than the bound) always fits in an `Int`.
    @usableFromInline package static var largestMaximum: Int { Int.max / 2 }

    /// Creates a policy.
    /// - Parameters:
    ///   - maximum: the total weight allowed (the entry count when every weight is 1)
    ///   - expectedEntries: the sketch's initial size in entries (default 64, at most `maximum`);
    ///     it grows with the live entry count either way, so this only saves early re-allocations
    ///   - seed: seeds the admission randomness (equal seeds give equal decisions)
    @usableFromInline package init(maximum: Int, expectedEntries: Int? = nil, seed: UInt64 = 0x5EED) {
        self.maximum = min(max(1, maximum), Self.largestMaximum)
        let window = self.maximum - Int(0.99 * Double(self.maximum))
        windowMaximum = window
        protectedMaximum = Int(Self.protectedShare * Double(self.maximum - window))
        sketch = FrequencySketch(capacity: min(expectedEntries ?? Self.initialSketchEntries, self.maximum))
        random = SplitMix64(seed: seed)
        self.seed = seed
        adaptive = true
        windowTarget = window
    }

    /// Creates a non-adaptive policy with a fixed window: one shadow of ``ShadowClimber``.
    /// - Parameters:
    ///   - shadowMaximum: the shadow's bound (the real bound divided by the sampling factor)
    ///   - windowShare: the window's fixed share of the bound
    ///   - seed: seeds the admission randomness
    init(shadowMaximum: Int, windowShare: Double, seed: UInt64) {
        maximum = max(1, shadowMaximum)
        let window = min(maximum, max(1, Int(windowShare * Double(maximum))))
        windowMaximum = window
        protectedMaximum = Int(Self.protectedShare * Double(maximum - window))
        sketch = FrequencySketch(capacity: min(Self.initialSketchEntries, maximum))
        random = SplitMix64(seed: seed)
        self.seed = seed
        adaptive = false
        windowTarget = window
    }

    /// The total weight of all entries.
    @usableFromInline package var weightedSize: Int { queues[0].weight + queues[1].weight + queues[2].weight }
    /// The number of entries.
    @usableFromInline package var count: Int { queues[0].count + queues[1].count + queues[2].count }
    /// The total weight of one queue.
    @usableFromInline package func weight(of region: Region) -> Int { region == .free ? 0 : queues[Int(region.rawValue)].weight }
    /// The number of entries in one queue.
    @usableFromInline package func count(of region: Region) -> Int { region == .free ? 0 : queues[Int(region.rawValue)].count }
    /// The queue a slot is in.
    @usableFromInline package func region(of slot: Slot) -> Region { nodes[Int(slot)].region }
    /// Whether a slot holds a live entry.
    @usableFromInline package func isLive(_ slot: Slot) -> Bool { Int(slot) < nodes.count && nodes[Int(slot)].region != .free }
    /// The weight of a live slot.
    @usableFromInline package func weight(of slot: Slot) -> Int { Int(nodes[Int(slot)].weight) }

    /// Negative weights count as 0.
    static func clamp(_ weight: Int) -> Int { max(0, weight) }
    /// The key hash of a live slot.
    @usableFromInline package func hash(of slot: Slot) -> UInt64 { nodes[Int(slot)].hash }

    /// Accepts the cache's lookup counts. The shadow climber measures hits itself (from
    /// ``insert(hash:weight:)`` and ``recordAccess(_:)``), so these are not needed; the method stays
    /// for the cache's interface.
    /// - Parameters:
    ///   - hits: lookups that found a live entry
    ///   - misses: lookups that did not
    @usableFromInline package mutating func recordLookups(hits: Int, misses: Int) {}

    /// The slots of one queue, least recently used first (for tests and diagnostics).
    @usableFromInline package func slots(in region: Region) -> [Slot] {
        var out: [Slot] = []
        var s = queues[Int(region.rawValue)].head
        while s != -1 {
            out.append(s)
            s = nodes[Int(s)].next
        }
        return out
    }

    // MARK: Operations

    /// Adds a new entry to the window and evicts what no longer fits.
    /// - Parameters:
    ///   - hash: the key's hash, for the frequency sketch
    ///   - weight: the entry's weight, at most ``maximum``
    /// - Returns: the new entry's slot, and the entries evicted to make room (which may include the
    ///   new entry itself when it loses admission)
    /// - Complexity: O(1) amortised (the sketch doubles when the entry count passes its size; a
    ///   heavy candidate's admission check looks at up to 64 victims)
    @usableFromInline package mutating func insert(hash: UInt64, weight: Int) -> (slot: Slot, evicted: [Eviction]) {
        let slot = allocate(Node(hash: hash, weight: Self.clamp(weight), prev: -1, next: -1, region: .window))
        link(slot, into: .window)
        if count > sketch.sizedFor { sketch.ensureCapacity(count) }
        sketch.increment(hash)
        if shadow != nil { shadow!.record(hash, weight: Self.clamp(weight)) }
        return (slot, evict())
    }

    /// Records a read of a live entry: counts it in the sketch and moves it in its queue.
    /// - Parameter slot: the entry's slot
    /// - Complexity: O(1)
    @usableFromInline package mutating func recordAccess(_ slot: Slot) {
        let i = Int(slot)
        guard nodes[i].region != .free else { return }
        // In the window, only the first reads of a stay count (see the type's documentation).
        if nodes[i].region != .window || nodes[i].counted < Self.windowReadCredit {
            sketch.increment(nodes[i].hash)
            if nodes[i].region == .window { nodes[i].counted += 1 }
        }
        if shadow != nil { shadow!.record(nodes[i].hash, weight: nodes[i].weight) }
        switch nodes[i].region {
        case .window, .protected:
            let region = nodes[i].region
            unlink(slot)
            link(slot, into: region)
        case .probation:
            unlink(slot)
            link(slot, into: .protected)
            demoteFromProtected()
        case .free:
            break
        }
    }

    /// Accepts one lookup's outcome; unused, like ``recordLookups(hits:misses:)``.
    /// - Parameter hit: whether the lookup found a live entry
    @usableFromInline package mutating func recordLookup(hit: Bool) {}

    /// Removes an entry (explicit removal, expiry).
    /// - Parameter slot: the entry's slot
    /// - Returns: whether the slot was live
    @discardableResult
    @usableFromInline package mutating func remove(_ slot: Slot) -> Bool {
        guard isLive(slot) else { return false }
        unlink(slot)
        release(slot)
        return true
    }

    /// Changes an entry's weight (its value was replaced) and evicts what no longer fits.
    /// - Parameters:
    ///   - slot: the entry's slot
    ///   - weight: the new weight
    ///   - access: whether the replacement counts as a read of the entry (sketch increment and
    ///     queue move); pass `false` for a background refresh, which is not a user access
    /// - Returns: the entries evicted (possibly this one)
    @usableFromInline package mutating func updateWeight(_ slot: Slot, to weight: Int, access: Bool = true) -> [Eviction] {
        let i = Int(slot)
        guard nodes[i].region != .free else { return [] }
        let delta = Self.clamp(weight) - nodes[i].weight
        nodes[i].weight = Self.clamp(weight)
        queues[Int(nodes[i].region.rawValue)].weight += delta
        if access { recordAccess(slot) }
        return evict()
    }

    /// Adapts the window: moves it (with bounded work) toward the share the shadow climber
    /// favours, creating the climber with the first entry. Call during maintenance (the cache
    /// calls it on every write).
    /// - Returns: entries evicted to restore the bounds (normally none)
    @usableFromInline package mutating func climb() -> [Eviction] {
        if adaptive { shadowClimb() }
        return evict()
    }

    // MARK: Eviction

    private mutating func evict() -> [Eviction] {
        guard weightedSize > maximum || queues[0].weight > windowMaximum else { return [] }
        var evicted: [Eviction] = []
        evictFromMain(candidates: evictFromWindow(), into: &evicted)
        return evicted
    }

    /// ``insert(hash:weight:)`` for a shadow: appends the evictions to a caller-owned buffer
    /// instead of allocating an array per call.
    mutating func insertShadow(hash: UInt64, weight: Int, evicted: inout [Eviction]) -> Slot {
        let slot = allocate(Node(hash: hash, weight: Self.clamp(weight), prev: -1, next: -1, region: .window))
        link(slot, into: .window)
        if count > sketch.sizedFor { sketch.ensureCapacity(count) }
        sketch.increment(hash)
        if weightedSize > maximum || queues[0].weight > windowMaximum {
            evictFromMain(candidates: evictFromWindow(), into: &evicted)
        }
        return slot
    }

    /// Moves the window's overflow to probation; returns how many moved (the candidates).
    private mutating func evictFromWindow() -> Int {
        var candidates = 0
        var slot = queues[0].head
        while queues[0].weight > windowMaximum, slot != -1 {
            let next = nodes[Int(slot)].next
            unlink(slot)
            link(slot, into: .probation)
            candidates += 1
            slot = next
        }
        return candidates
    }

    /// Evicts until the total fits: each candidate (newest first) duels probation's LRU victim.
    private mutating func evictFromMain(candidates: Int, into evicted: inout [Eviction]) {
        var victimRegion = Region.probation
        var victim = queues[1].head
        var candidate = candidates > 0 ? queues[1].tail : -1
        var remaining = candidates
        var preApproved = 0
        while weightedSize > maximum {
            // Zero-weight entries free nothing: skip them as victims and as candidates (Caffeine
            // does the same), so they never cost a live entry its place.
            if victim != -1 && nodes[Int(victim)].weight == 0 {
                victim = nodes[Int(victim)].next
                continue
            }
            if candidate != -1 && nodes[Int(candidate)].weight == 0 {
                candidate = remaining > 1 ? nodes[Int(candidate)].prev : -1
                remaining -= 1
                continue
            }
            if candidate == -1 && victim == -1 {
                switch victimRegion {
                case .probation:
                    victimRegion = .protected
                    victim = queues[2].head
                    continue
                case .protected:
                    victimRegion = .window
                    victim = queues[0].head
                    continue
                default:
                    return
                }
            }
            if victim == -1 {
                let previous = remaining > 1 ? nodes[Int(candidate)].prev : -1
                remaining -= 1
                evicted.append(evictNode(candidate))
                candidate = previous
                continue
            }
            if candidate == -1 {
                let next = nodes[Int(victim)].next
                evicted.append(evictNode(victim))
                victim = next
                continue
            }
            if candidate == victim {
                let next = nodes[Int(victim)].next
                evicted.append(evictNode(candidate))
                victim = next
                candidate = -1
                remaining = 0
                continue
            }
            let admitted: Bool
            if preApproved > 0 {
                admitted = true
            } else if admit(candidate: nodes[Int(candidate)].hash, victim: nodes[Int(victim)].hash) {
                // A candidate heavier than the victim must outrank every victim it would displace;
                // decide before evicting any of them (so a later loss does not cost both sides).
                if nodes[Int(candidate)].weight > nodes[Int(victim)].weight {
                    preApproved = outranks(candidate, from: victim)
                    admitted = preApproved > 0
                } else {
                    admitted = true
                }
            } else {
                admitted = false
            }
            if admitted {
                preApproved = max(0, preApproved - nodes[Int(victim)].weight)
                let next = nodes[Int(victim)].next
                evicted.append(evictNode(victim))
                victim = next
                if preApproved == 0 || victim == -1 || victimRegion != .probation {
                    preApproved = 0
                    let previous = remaining > 1 ? nodes[Int(candidate)].prev : -1
                    remaining -= 1
                    candidate = previous
                }
            } else {
                let previous = remaining > 1 ? nodes[Int(candidate)].prev : -1
                remaining -= 1
                evicted.append(evictNode(candidate))
                candidate = previous
            }
        }
    }

    /// The weight a candidate may displace, starting at `victim`: 0 if some victim it would have to
    /// evict is at least as popular, else the weight of the victims it outranks (up to what is needed).
    private func outranks(_ candidate: Slot, from victim: Slot) -> Int {
        let frequency = sketch.frequency(nodes[Int(candidate)].hash)
        let needed = min(nodes[Int(candidate)].weight, weightedSize - maximum)
        var freed = 0
        var slot = victim
        var scanned = 0
        while slot != -1, freed < needed, scanned < 64 {
            if slot != candidate, nodes[Int(slot)].weight > 0 {
                if sketch.frequency(nodes[Int(slot)].hash) >= frequency { return 0 }
                freed += nodes[Int(slot)].weight
            }
            slot = nodes[Int(slot)].next
            scanned += 1
        }
        return max(freed, 1)
    }

    /// TinyLFU admission: the more popular entry stays; warm candidates win 1 time in 128 anyway.
    private mutating func admit(candidate: UInt64, victim: UInt64) -> Bool {
        let victimFrequency = sketch.frequency(victim)
        let candidateFrequency = sketch.frequency(candidate)
        if candidateFrequency > victimFrequency { return true }
        if candidateFrequency >= 6 { return random.next() & 127 == 0 }
        return false
    }

    private mutating func evictNode(_ slot: Slot) -> Eviction {
        let weight = Int(nodes[Int(slot)].weight)
        let hash = nodes[Int(slot)].hash
        hasEvicted = true
        unlink(slot)
        release(slot)
        return Eviction(slot: slot, weight: weight, hash: hash)
    }

    private mutating func demoteFromProtected() {
        var moved = 0
        while queues[2].weight > protectedMaximum, queues[2].head != -1, moved < Self.transferLimit {
            let slot = queues[2].head
            unlink(slot)
            link(slot, into: .probation)
            moved += 1
        }
    }

    // MARK: Shadow climbing

    /// Protected's maximum when the window's maximum is `window`.
    private func protectedLimit(window: Int) -> Int { Int(Self.protectedShare * Double(maximum - window)) }

    /// Creates (or, once, re-sizes) the shadow climber and moves the window toward its choice.
    private mutating func shadowClimb() {
        guard count > 0 else { return }
        // The shadows are sized by the entries the cache will hold at its bound, estimated from
        // the mean weight so far (exact for unit weights). They start with the first entry and
        // are rebuilt once, at half full, if the estimate then differs by more than 2×.
        let halfFull = weightedSize >= maximum / 2
        if shadow == nil || (halfFull && !shadowChecked) {
            let estimate = weightedSize > 0 ? Double(count) * Double(maximum) / Double(weightedSize) : Double(count)
            let entries = Int(min(max(estimate, 1), Double(1 << 40)))
            if shadow == nil || entries > 2 * shadow!.sizedForEntries || 2 * entries < shadow!.sizedForEntries {
                shadow = ShadowClimber(entries: entries, maximum: maximum,
                                       initial: Double(windowMaximum) / Double(maximum), seed: seed)
            }
            shadowChecked = halfFull
        }
        windowTarget = min(maximum, max(1, Int(shadow!.targetShare * Double(maximum))))
        moveWindow()
    }

    /// Moves ``windowMaximum`` toward ``windowTarget`` with bounded work: a shrinking window hands
    /// its LRU entries to probation (at most ``transferLimit`` per call, the maximum following the
    /// contents); a growing one takes probation's (then protected's) LRU entries.
    private mutating func moveWindow() {
        if windowMaximum < windowTarget {
            pendingGrow += windowTarget - windowMaximum
            windowMaximum = windowTarget
            protectedMaximum = protectedLimit(window: windowMaximum)
        } else if windowMaximum > windowTarget {
            pendingGrow = 0
            var moved = 0
            while queues[0].weight > windowTarget, moved < Self.transferLimit, queues[0].head != -1 {
                let slot = queues[0].head
                unlink(slot)
                link(slot, into: .probation)
                moved += 1
            }
            windowMaximum = max(windowTarget, queues[0].weight)
            protectedMaximum = protectedLimit(window: windowMaximum)
        }
        demoteFromProtected()
        pendingGrow = min(pendingGrow, windowMaximum - queues[0].weight)
        var moved = 0
        while pendingGrow > 0, moved < Self.transferLimit {
            var slot = queues[1].head
            if slot == -1 { slot = queues[2].head }
            guard slot != -1, nodes[Int(slot)].weight <= pendingGrow else { pendingGrow = 0; break }
            pendingGrow -= nodes[Int(slot)].weight
            unlink(slot)
            link(slot, into: .window)
            nodes[Int(slot)].counted = 0
            moved += 1
        }
    }

    // MARK: Slab and queues

    private mutating func allocate(_ node: Node) -> Slot {
        if let slot = freeSlots.popLast() {
            nodes[Int(slot)] = node
            return slot
        }
        nodes.append(node)
        return Slot(nodes.count - 1)
    }

    private mutating func release(_ slot: Slot) {
        nodes[Int(slot)].region = .free
        freeSlots.append(slot)
    }

    private mutating func link(_ slot: Slot, into region: Region) {
        let q = Int(region.rawValue)
        let i = Int(slot)
        nodes[i].region = region
        nodes[i].prev = queues[q].tail
        nodes[i].next = -1
        if queues[q].tail != -1 { nodes[Int(queues[q].tail)].next = slot } else { queues[q].head = slot }
        queues[q].tail = slot
        queues[q].weight += Int(nodes[i].weight)
        queues[q].count += 1
    }

    private mutating func unlink(_ slot: Slot) {
        let i = Int(slot)
        let q = Int(nodes[i].region.rawValue)
        let prev = nodes[i].prev
        let next = nodes[i].next
        if prev != -1 { nodes[Int(prev)].next = next } else { queues[q].head = next }
        if next != -1 { nodes[Int(next)].prev = prev } else { queues[q].tail = prev }
        nodes[i].prev = -1
        nodes[i].next = -1
        queues[q].weight -= Int(nodes[i].weight)
        queues[q].count -= 1
    }
}

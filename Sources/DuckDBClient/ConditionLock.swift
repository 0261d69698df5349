#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// A pthread mutex with condition variables, for the pool's own threads (which block by design;
/// Swift's cooperative threads never wait on it for longer than a few field updates).
final class ConditionLock: @unchecked Sendable {
    // @unchecked Sendable: the mutex is the synchronisation; the pointer never changes after init.
    fileprivate let mutex: UnsafeMutablePointer<pthread_mutex_t>

    init() {
        mutex = .allocate(capacity: 1)
        pthread_mutex_init(mutex, nil)
    }

    deinit {
        pthread_mutex_destroy(mutex)
        mutex.deallocate()
    }

    func lock() { pthread_mutex_lock(mutex) }
    func unlock() { pthread_mutex_unlock(mutex) }

    /// Runs `body` with the lock held.
    @inline(__always)
    func withLock<T>(_ body: () throws -> T) rethrows -> T {
        lock()
        defer { unlock() }
        return try body()
    }
}

/// A condition variable used with one ``ConditionLock``; timed waits use the monotonic clock.
final class Condition: @unchecked Sendable {
    // @unchecked Sendable: pthread condition variables are made for use from several threads.
    private let condition: UnsafeMutablePointer<pthread_cond_t>

    init() {
        condition = .allocate(capacity: 1)
        var attributes = pthread_condattr_t()
        pthread_condattr_init(&attributes)
        #if !canImport(Darwin)
        pthread_condattr_setclock(&attributes, CLOCK_MONOTONIC)
        #endif
        pthread_cond_init(condition, &attributes)
        pthread_condattr_destroy(&attributes)
    }

    deinit {
        pthread_cond_destroy(condition)
        condition.deallocate()
    }

    /// Waits until signalled (spurious wake-ups possible: re-check the predicate). Lock held.
    func wait(_ lock: ConditionLock) {
        pthread_cond_wait(condition, lock.mutex)
    }

    /// Waits until signalled or `timeout` has passed. Lock held.
    func wait(_ lock: ConditionLock, timeout: Duration) {
        var now = timespec()
        #if canImport(Darwin)
        clock_gettime(CLOCK_REALTIME, &now)
        #else
        clock_gettime(CLOCK_MONOTONIC, &now)
        #endif
        guard timeout > .zero else { return }
        let (seconds, attoseconds) = timeout.components
        let nanos = Int(now.tv_nsec) + Int(attoseconds / 1_000_000_000)
        let secs = Int(now.tv_sec) + Int(min(seconds, 365 * 86_400)) + nanos / 1_000_000_000
        var deadline = timespec(tv_sec: secs, tv_nsec: nanos % 1_000_000_000)
        pthread_cond_timedwait(condition, lock.mutex, &deadline)
    }

    func signal() { pthread_cond_signal(condition) }
    func broadcast() { pthread_cond_broadcast(condition) }
}

/// Starts a detached thread of our own (not one of Swift's cooperative threads).
/// - Parameters:
///   - name: the thread's name, for diagnostics
///   - body: what the thread runs
func startThread(name: String, _ body: @escaping @Sendable () -> Void) {
    final class Box: @unchecked Sendable {
        // @unchecked Sendable: handed over to the new thread once, never touched again here.
        let name: String
        let body: @Sendable () -> Void
        init(name: String, body: @escaping @Sendable () -> Void) {
            self.name = name
            self.body = body
        }
    }
    let box = Unmanaged.passRetained(Box(name: name, body: body)).toOpaque()
    var attributes = pthread_attr_t()
    pthread_attr_init(&attributes)
    pthread_attr_setdetachstate(&attributes, Int32(PTHREAD_CREATE_DETACHED))
    pthread_attr_setstacksize(&attributes, 8 << 20)  // DuckDB's planner recurses; give it room
    #if canImport(Darwin)
    var thread: pthread_t?
    #else
    var thread = pthread_t()
    #endif
    let result = pthread_create(&thread, &attributes, { raw in
        guard let raw else { return nil }
        let box = Unmanaged<Box>.fromOpaque(raw).takeRetainedValue()
        box.body()
        return nil
    }, box)
    pthread_attr_destroy(&attributes)
    precondition(result == 0, "pthread_create failed: \(result)")
}

import DequeModule
import Metrics
import Synchronization

/// A connection owned by one worker thread of a ``PoolCore``.
final class PoolWorker: @unchecked Sendable {
    // @unchecked Sendable: `connection` is used only by this worker's thread (and released by it on
    // exit); `handle`, `assigned` and `running` are guarded by the core's lock; the handle's
    // interrupt is thread-safe by DuckDB's contract.
    var connection: Connection?
    /// The DuckDB handle of `connection`, for interrupting it from other threads.
    var handle: ConnectionHandle?
    let wake = Condition()
    var assigned: PoolJob?
    /// The job running on this worker now.
    var running: PoolJob?
    /// Set (after `assigned`) when a job is handed over, so a spinning worker sees it without the lock.
    let handedOver = Atomic<Bool>(false)

    init(connection: Connection) {
        self.connection = connection
        self.handle = connection.owner
    }
}

/// The machinery behind ``DuckDBPool`` and ``DuckDBWriter``: N worker threads, each owning one
/// connection, a bounded FIFO of waiting jobs, and a watchdog thread for deadlines.
///
/// Job life cycle (all transitions under `lock`):
/// `created → queued → assigned → running → finished`, with shortcuts to `finished` for a job
/// refused at submission (overload, shutdown, already cancelled), removed from the queue
/// (cancellation, deadline), or skipped by its worker (cancelled or timed out while assigned).
/// Whoever moves a job to `finished` resumes its waiter, after releasing the lock.
package final class PoolCore: @unchecked Sendable {
    // @unchecked Sendable: every mutable field below is guarded by `lock`.
    let lock = ConditionLock()
    let name: String
    let queueLimit: Int
    private var workers: [PoolWorker] = []
    private var idle: [PoolWorker] = []
    private var queue = Deque<PoolJob>()
    private var timed: [ObjectIdentifier: PoolJob] = [:]
    /// Running jobs that were cancelled or timed out. DuckDB drops an interrupt that arrives before
    /// its statement has begun (or between two statements of one job), so the watchdog repeats it
    /// every ``reinterruptInterval`` until the job ends.
    private var interrupting: [ObjectIdentifier: PoolJob] = [:]
    static let reinterruptInterval: Duration = .milliseconds(20)
    /// How long a running job may ignore its interrupt before its waiter is answered without it.
    static let abandonGrace: Duration = .milliseconds(200)
    private let watchdog = Condition()
    private var watchdogWake: ContinuousClock.Instant?
    private var shuttingDown = false
    private var liveThreads = 0
    private var shutdownWaiters: [CheckedContinuation<Void, Never>] = []
    private var counters = PoolStatistics()
    private let metrics: PoolMetrics

    /// How long an idle worker polls for its next job before it sleeps on its condition variable.
    /// Waking a sleeping thread costs tens of microseconds on a VM; a request that arrives within
    /// this window is picked up at once. Zero disables spinning.
    let spin: Duration

    /// Whether a running job that ignores its interrupt is answered without it (readers: yes; the
    /// writer: no, because a write that commits late must not have been reported as failed).
    let answersStuckJobs: Bool

    /// Whether every connection refuses statements other than SELECT.
    let selectOnly: Bool
    /// Every connection's result cap.
    let maxResultBytes: Int?
    /// The database, for reopening a connection that could not be reset.
    private let database: Database?

    init(
        name: String, connections: [Connection], queueLimit: Int, spin: Duration = .microseconds(50),
        metricsFactory: (any MetricsFactory)? = nil, answersStuckJobs: Bool = true, selectOnly: Bool = false,
        maxResultBytes: Int? = nil
    ) {
        self.name = name
        self.selectOnly = selectOnly
        self.maxResultBytes = maxResultBytes
        database = connections.first?.database
        for connection in connections {
            connection.session.selectOnly = selectOnly
            connection.session.maxResultBytes = maxResultBytes
        }
        self.answersStuckJobs = answersStuckJobs
        self.queueLimit = queueLimit
        self.spin = spin
        metrics = PoolMetrics(pool: name, factory: metricsFactory ?? MetricsSystem.factory)
        workers = connections.map(PoolWorker.init)
        idle = workers
        liveThreads = workers.count + 1
        counters.connections = workers.count
        for (index, worker) in workers.enumerated() {
            startThread(name: "\(name)-\(index)") { [self] in workerLoop(worker) }
        }
        startThread(name: "\(name)-watch") { [self] in watchdogLoop() }
    }

    // MARK: Submitting and cancelling

    /// Queues `job` or hands it to an idle worker; refuses it with an error when it cannot.
    func submit(_ job: PoolJob) {
        var refusal: (any Error)?
        lock.withLock {
            if job.cancelRequested {
                refusal = CancellationError()
                counters.cancelled += 1
                metrics.cancelled.increment()
            } else if shuttingDown {
                refusal = DuckDBPoolError.shutDown
            } else if let worker = idle.popLast() {
                job.state = .assigned
                worker.assigned = job
                worker.handedOver.store(true, ordering: .releasing)
                worker.wake.signal()
            } else if queue.count >= queueLimit {
                refusal = DuckDBPoolError.overloaded(queueLimit: queueLimit)
                counters.overloaded += 1
                metrics.overloaded.increment()
            } else {
                job.state = .queued
                queue.append(job)
            }
            if refusal != nil {
                job.state = .finished
            } else if let deadline = job.deadline {
                timed[ObjectIdentifier(job)] = job
                if watchdogWake.map({ deadline < $0 }) ?? true { watchdog.signal() }
            }
        }
        if let refusal { job.fail(refusal) }
    }

    /// Cancels `job`: removes it if it waits, interrupts its statement if it runs.
    func cancel(_ job: PoolJob) {
        let removed: Bool = lock.withLock {
            job.cancelRequested = true
            switch job.state {
            case .created, .assigned, .finished:
                return false  // submit() or the worker will see the flag
            case .queued:
                finishQueued(job)
                counters.cancelled += 1
                metrics.cancelled.increment()
                return true
            case .running(let worker):
                worker.handle?.interrupt()
                job.interruptedAt = job.interruptedAt ?? .now
                interrupting[ObjectIdentifier(job)] = job
                watchdog.signal()
                return false
            }
        }
        if removed { job.fail(CancellationError()) }
    }

    /// Lock held: takes a queued job out and marks it finished.
    private func finishQueued(_ job: PoolJob) {
        if let index = queue.firstIndex(where: { $0 === job }) { queue.remove(at: index) }
        job.state = .finished
        timed.removeValue(forKey: ObjectIdentifier(job))
    }

    // MARK: Threads

    /// What a worker does next.
    private enum Next {
        case run(PoolJob)
        /// Cancelled or timed out between assignment and start: answer it without running it.
        case skip(PoolJob, any Error)
        case exit
    }

    /// The worker thread's loop. Every job reference it holds is dropped with the lock released:
    /// the last reference to a job may own the last reference to its pool, whose deinit takes the
    /// lock.
    private func workerLoop(_ worker: PoolWorker) {
        while true {
            switch nextJob(for: worker) {
            case .run(let job): serve(job, on: worker)
            case .skip(let job, let error): job.fail(error)
            case .exit:
                worker.connection = nil
                let handle = lock.withLock { () -> ConnectionHandle? in
                    defer { worker.handle = nil }
                    return worker.handle
                }
                handle?.close()  // on this thread, without the lock, whoever else holds it
                lock.withLock { threadExited() }
                return
            }
        }
    }

    /// Waits for the worker's next job (lock taken and released inside).
    private func nextJob(for worker: PoolWorker) -> Next {
        lock.lock()
        defer { lock.unlock() }
        if worker.assigned == nil && !shuttingDown && spin > .zero {
            lock.unlock()
            spinUntilHandedOver(worker)
            lock.lock()
        }
        while worker.assigned == nil && !shuttingDown { worker.wake.wait(lock) }
        guard let job = worker.assigned else { return .exit }
        worker.assigned = nil
        worker.handedOver.store(false, ordering: .relaxed)
        if let abandon = job.abandonError {
            job.state = .finished
            timed.removeValue(forKey: ObjectIdentifier(job))
            count(abandon)
            takeNext(worker)
            return .skip(job, abandon)
        }
        job.state = .running(worker)
        worker.running = job
        counters.running += 1
        return .run(job)
    }

    /// Runs `job` on the worker's connection, answers its caller, then brings the connection back
    /// to auto-commit mode before the worker takes its next job. Called without the lock.
    private func serve(_ job: PoolJob, on worker: PoolWorker) {
        let started = ContinuousClock.now
        metrics.wait.recordNanoseconds(nanoseconds(job.submittedAt.duration(to: started)))
        if worker.connection == nil { reconnect(worker) }
        if let connection = worker.connection {
            job.run(on: connection)
        } else {
            job.record(failure: DuckDBError(.connect, "the pool could not reopen this connection"))
        }
        metrics.run.recordNanoseconds(nanoseconds(started.duration(to: .now)))
        let (answered, abandon) = lock.withLock { () -> (Bool, (any Error)?) in
            counters.running -= 1
            // From here on neither the watchdog nor a cancellation interrupts this connection, and
            // interrupt handles the job took stop working: the reset below cannot be interrupted.
            job.state = .finished
            worker.running = nil
            worker.handle?.advanceEpoch()
            timed.removeValue(forKey: ObjectIdentifier(job))
            interrupting.removeValue(forKey: ObjectIdentifier(job))
            let abandon = job.abandonError
            // One outcome per request, the one its caller gets: the timeout or cancellation when
            // the caller was answered without the statement or the interrupted statement failed;
            // otherwise the statement's own result ("completed", success or error).
            if let abandon, job.answered || job.failed {
                count(abandon)
            } else {
                counters.completed += 1
                metrics.completed.increment()
            }
            let answered = job.answered
            job.answered = true
            return (answered, abandon)
        }
        if answersStuckJobs {
            // Readers: answer first, then clean up while nobody waits.
            if !answered { job.complete(abandon: abandon) }
            restoreSession(of: worker)
        } else {
            // The writer: a job that left a transaction open did not commit, whatever its body
            // returned; its caller must hear that, so clean up before answering.
            if restoreSession(of: worker) {
                job.record(failure: DuckDBError(
                    .execute, "the write left a transaction open; it was rolled back and nothing of it is committed"))
            }
            if !answered { job.complete(abandon: abandon) }
        }
        lock.withLock { takeNext(worker) }
    }

    /// Brings the worker's connection back to a fresh session: a transaction left open or aborted
    /// is rolled back (so the next job does not run inside it, on an old snapshot), a connection
    /// whose session a statement changed (SET, USE, CREATE TEMP, ATTACH …) or that cannot be rolled
    /// back is replaced, and the pool's policy (select-only, result cap) is put back in case the
    /// job changed it.
    /// - Returns: whether a transaction had been left open
    @discardableResult
    private func restoreSession(of worker: PoolWorker) -> Bool {
        guard let connection = worker.connection else { return false }
        var leftOpen = false
        var replace = connection.session.changedSession
        switch connection.resetTransactionState() {
        case .clean: break
        case .rolledBack:
            leftOpen = true
            lock.withLock { counters.transactionsRolledBack += 1 }
            metrics.rolledBack.increment()
        case .failed:
            leftOpen = true
            replace = true
        }
        if replace {
            reconnect(worker)
        } else {
            connection.session.selectOnly = selectOnly
            connection.session.maxResultBytes = maxResultBytes
        }
        return leftOpen
    }

    /// Opens a fresh connection for `worker`; the previous one is closed first, even if an
    /// ``InterruptHandle`` still holds its DuckDB handle.
    private func reconnect(_ worker: PoolWorker) {
        worker.connection = nil  // its prepared statements go first
        let fresh = try? database?.connect()
        fresh?.session.selectOnly = selectOnly
        fresh?.session.maxResultBytes = maxResultBytes
        let old = lock.withLock { () -> ConnectionHandle? in
            defer {
                worker.handle = fresh?.owner
                if fresh != nil { counters.connectionsReplaced += 1 }
            }
            return worker.handle
        }
        old?.close()  // without the lock
        if fresh != nil { metrics.replaced.increment() }
        worker.connection = fresh
    }

    /// Polls the worker's hand-over flag for at most `spin`; the lock is not held.
    private func spinUntilHandedOver(_ worker: PoolWorker) {
        let deadline = ContinuousClock.now.advanced(by: spin)
        var polls = 0
        while !worker.handedOver.load(ordering: .acquiring) {
            polls &+= 1
            if polls & 63 == 0 && ContinuousClock.now >= deadline { return }
        }
    }

    /// Lock held: gives `worker` the next queued job, or returns it to the idle list.
    private func takeNext(_ worker: PoolWorker) {
        if let next = queue.popFirst() {
            next.state = .assigned
            worker.assigned = next
            worker.handedOver.store(true, ordering: .releasing)
        } else {
            idle.append(worker)
        }
    }

    private func count(_ abandon: any Error) {
        if abandon is CancellationError {
            counters.cancelled += 1
            metrics.cancelled.increment()
        } else if abandon as? DuckDBPoolError == .shutDown {
            counters.shutDown += 1
            metrics.shutDown.increment()
        } else {
            counters.timedOut += 1
            metrics.timedOut.increment()
        }
    }

    private func watchdogLoop() {
        lock.lock()
        // Deadlines, repeated interrupts and stuck-job answers go on during shutdown, until the
        // last worker has exited (a draining writer still runs jobs with deadlines).
        while !(shuttingDown && liveThreads <= 1) {
            let now = ContinuousClock.now
            var next: ContinuousClock.Instant?
            var expired: [PoolJob] = []
            for (id, job) in timed {
                guard let deadline = job.deadline else { continue }
                if deadline > now {
                    next = next.map { min($0, deadline) } ?? deadline
                    continue
                }
                timed.removeValue(forKey: id)
                job.timedOut = true
                switch job.state {
                case .queued:
                    finishQueued(job)
                    counters.timedOut += 1
                    metrics.timedOut.increment()
                    expired.append(job)
                case .running(let worker):
                    worker.handle?.interrupt()
                    job.interruptedAt = job.interruptedAt ?? now
                    interrupting[id] = job
                case .created, .assigned, .finished:
                    break  // the worker sees the flag before starting it
                }
            }
            var abandoned: [(PoolJob, any Error)] = []
            for (id, job) in interrupting {
                if case .running(let worker) = job.state {
                    worker.handle?.interrupt()
                    // A statement blocked where DuckDB does not look at interrupts (an HTTP read in
                    // httpfs, say) keeps its connection, but not its caller: past the grace the
                    // caller gets its timeout or cancellation now, and the late outcome is dropped.
                    let since = job.interruptedAt ?? now
                    if job.interruptedAt == nil { job.interruptedAt = now }
                    if answersStuckJobs, !job.answered, now >= since.advanced(by: Self.abandonGrace), let error = job.abandonError {
                        job.answered = true
                        abandoned.append((job, error))
                    }
                } else {
                    interrupting.removeValue(forKey: id)
                }
            }
            if !interrupting.isEmpty {
                let again = now.advanced(by: Self.reinterruptInterval)
                next = next.map { min($0, again) } ?? again
            }
            watchdogWake = next
            if !expired.isEmpty || !abandoned.isEmpty {
                lock.unlock()
                for job in expired { job.fail(DuckDBPoolError.timedOut(job.timeout ?? .zero)) }
                for (job, error) in abandoned { job.fail(error) }
                // Drop these references now, not at the end of the iteration with the lock held.
                expired.removeAll()
                abandoned.removeAll()
                lock.lock()
                continue
            }
            if let next { watchdog.wait(lock, timeout: now.duration(to: next)) } else { watchdog.wait(lock) }
        }
        threadExited()
        lock.unlock()
    }

    /// Lock held.
    private func threadExited() {
        liveThreads -= 1
        watchdog.signal()  // the watchdog ends after the last worker
        if liveThreads == 0 {
            for waiter in shutdownWaiters { waiter.resume() }
            shutdownWaiters.removeAll()
        }
    }

    // MARK: Shutdown and statistics

    /// Refuses new jobs, then ends the threads. Queued jobs fail with ``DuckDBPoolError/shutDown``,
    /// or run first when `drain` is set; running jobs are interrupted (their callers get
    /// ``DuckDBPoolError/shutDown``) unless `drain` is set.
    func beginShutdown(drain: Bool = false) {
        let dropped: [PoolJob] = lock.withLock {
            guard !shuttingDown else { return [] }
            shuttingDown = true
            let waiting = drain ? [] : Array(queue)
            for job in waiting { finishQueued(job) }
            if !drain {
                let now = ContinuousClock.now
                for worker in workers {
                    // Handed over but not started: the worker skips it.
                    worker.assigned?.shutDownRequested = true
                    guard let job = worker.running else { continue }
                    job.shutDownRequested = true
                    worker.handle?.interrupt()
                    job.interruptedAt = job.interruptedAt ?? now
                    interrupting[ObjectIdentifier(job)] = job
                }
            }
            for worker in workers {
                worker.handedOver.store(true, ordering: .releasing)  // stop spinning
                worker.wake.signal()
            }
            watchdog.signal()
            return waiting
        }
        for job in dropped { job.fail(DuckDBPoolError.shutDown) }
    }

    /// Shuts down and waits until every thread has exited and every connection is closed.
    func shutdown(drain: Bool = false) async {
        beginShutdown(drain: drain)
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let done: Bool = lock.withLock {
                if liveThreads == 0 { return true }
                shutdownWaiters.append(continuation)
                return false
            }
            if done { continuation.resume() }
        }
    }

    var statistics: PoolStatistics {
        lock.withLock {
            var s = counters
            s.idle = idle.count
            s.queued = queue.count
            return s
        }
    }
}


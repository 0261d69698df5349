import EventLogCore
import Foundation
import PostgresNIO
import Synchronization

/// What the listener has done: how many times it has started listening (a reconnect adds one) and
/// the last position a notification named.
final class ListenerState: Sendable {
    private let state = Mutex<(listens: Int, lastNotified: Int64)>((0, 0))
    /// Signalled each time the listener starts listening.
    let started = ChangeSignal()
    var listens: Int { state.withLock { $0.listens } }
    var lastNotified: Int64 { state.withLock { $0.lastNotified } }
    func listening() {
        state.withLock { $0.listens += 1 }
        started.signal()
    }
    func notified(_ position: Int64) { state.withLock { $0.lastNotified = max($0.lastNotified, position) } }
}

extension PostgresEventStore {
    /// Times the listener has started listening (1 after the first `LISTEN`; each reconnect adds
    /// one).
    public var listenCount: Int { listens.listens }

    /// Returns once the listener has started listening `count` times in all (or the task is
    /// cancelled): after it, every append's notification reaches this node.
    public func waitUntilListening(count: Int = 1) async {
        while !Task.isCancelled {
            let seen = listens.started.generation
            if listens.listens >= count { return }
            await listens.started.wait(after: seen)
        }
    }

    /// `LISTEN`s on the channel on a connection of its own and wakes subscribers on every
    /// notification — and once each time it starts listening, since notifications sent while it was
    /// not listening are lost: the woken subscribers then read what they missed from the table.
    /// Reconnects after a failure, with a growing pause (at most
    /// ``Configuration/maxReconnectDelay``); returns when cancelled.
    func listen() async {
        var delay = configuration.reconnectDelay
        while !Task.isCancelled {
            do {
                try await client.withConnection { connection in
                    do {
                        try await connection.listen(on: self.configuration.channel) { notifications in
                            self.listens.listening()
                            delay = self.configuration.reconnectDelay
                            self.changes.signal()
                            for try await notification in notifications {
                                if let position = Int64(notification.payload.prefix { $0 != " " }) { self.listens.notified(position) }
                                self.changes.signal()
                            }
                        }
                    } catch {
                        // Closed before it goes back to the pool: an append must never lease a
                        // connection whose backend was just terminated.
                        try? await connection.close()
                        throw error
                    }
                    try? await connection.close()
                }
                // The sequence ended without an error: the connection is gone; listen again.
            } catch {
                if Task.isCancelled { return }
                logger.warning("the event log's listener lost its connection; listening again", metadata: [
                    "error": "\(String(reflecting: error))", "retry_in": "\(delay)",
                ])
            }
            try? await Task.sleep(for: delay)
            delay = min(delay * 2, configuration.maxReconnectDelay)
        }
    }

    /// Wakes subscribers every ``Configuration/pollInterval``: the bound on how late they can be
    /// when a notification was lost. A wake-up with nothing new costs each subscriber one read of
    /// an index.
    func poll() async {
        while !Task.isCancelled {
            do { try await Task.sleep(for: configuration.pollInterval) } catch { return }
            changes.signal()
        }
    }
}

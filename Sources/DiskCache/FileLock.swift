import Foundation

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// An advisory `flock(2)` lock on a file, released when the lock is closed or the process dies
/// (however it dies: the kernel drops the lock with the last descriptor).
///
/// `flock` locks belong to the open file description, so two `FileLock`s on one file conflict even
/// inside one process, as two processes would.
final class FileLock: Sendable {
    private let descriptor: Int32
    let path: String

    /// Opens (creating if needed) the lock file; takes no lock.
    init(path: String) throws {
        self.path = path
        let fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o644)
        guard fd >= 0 else {
            throw DiskCacheError(description: "cannot open the lock file \(path): \(String(cString: strerror(errno)))")
        }
        descriptor = fd
    }

    deinit { close(descriptor) }

    /// Waits for the lock.
    /// - Parameter exclusive: exclusive, or shared with other shared holders
    func lock(exclusive: Bool) throws {
        while flock(descriptor, exclusive ? LOCK_EX : LOCK_SH) != 0 {
            guard errno == EINTR else {
                throw DiskCacheError(description: "cannot lock \(path): \(String(cString: strerror(errno)))")
            }
        }
    }

    /// Takes the lock if nobody holds a conflicting one.
    /// - Parameter exclusive: exclusive, or shared with other shared holders
    /// - Returns: whether the lock is now held
    func tryLock(exclusive: Bool) throws -> Bool {
        while flock(descriptor, (exclusive ? LOCK_EX : LOCK_SH) | LOCK_NB) != 0 {
            if errno == EWOULDBLOCK { return false }
            guard errno == EINTR else {
                throw DiskCacheError(description: "cannot lock \(path): \(String(cString: strerror(errno)))")
            }
        }
        return true
    }

    /// Waits for the lock at most `timeout` (polling every 5 ms).
    /// - Returns: whether the lock is now held
    func lock(exclusive: Bool, timeout: Duration) throws -> Bool {
        let deadline = ContinuousClock.now + timeout
        while true {
            if try tryLock(exclusive: exclusive) { return true }
            if ContinuousClock.now >= deadline { return false }
            usleep(5_000)
        }
    }

    /// Whether the open file is still the one at `path` (a rename of its directory, or a new
    /// file at the path, makes it another).
    func isStill(at path: String) -> Bool {
        var open = stat(), current = stat()
        guard fstat(descriptor, &open) == 0, stat(path, &current) == 0 else { return false }
        return open.st_dev == current.st_dev && open.st_ino == current.st_ino
    }

    /// Releases the lock (the file stays).
    func unlock() { _ = flock(descriptor, LOCK_UN) }
}

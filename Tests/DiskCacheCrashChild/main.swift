// A child process for DiskCacheTests' crash test: applies a deterministic sequence of operations
// to a disk cache and prints the index of each one after it returns (i.e. after its commit), until
// the parent kills it with SIGKILL.
//
// Usage: disk-cache-crash-child PATH none|eventual|immediate FIRST-INDEX
// (and the `grow` and `hold` modes below, for the tests of several processes on one cache)
import CrashWorkload
import DiskCache
import Foundation

let arguments = CommandLine.arguments
// `disk-cache-crash-child PATH grow BYTES`: opens the cache with a 256 MiB map, stores BYTES of
// distinct 64 KiB values (growing the file past a smaller map another process has open), prints
// the count stored and exits.
if arguments.count == 4, arguments[2] == "grow", let total = Int(arguments[3]) {
    let cache = try DiskCache(configuration: DiskCacheConfiguration(path: arguments[1], mapSize: 256 << 20, byteBudget: 64 << 20))
    let value = [UInt8](repeating: 0x5A, count: 64 << 10)
    var stored = 0
    while stored * value.count < total {
        _ = try value.withUnsafeBytes { try cache.put($0, forKey: "grow-\(stored)") }
        stored += 1
    }
    print(stored)
    exit(0)
}
// `disk-cache-crash-child PATH hold MAP-BYTES`: opens the cache, prints its entry count (or -1
// when the open moved the files aside), then keeps it open until killed.
if arguments.count == 4, arguments[2] == "hold", let mapSize = Int(arguments[3]) {
    let cache = try DiskCache(configuration: DiskCacheConfiguration(path: arguments[1], mapSize: mapSize, byteBudget: mapSize / 2))
    let line = "\(cache.movedAsidePath == nil ? try cache.statistics().entries : -1)\n"
    _ = line.withCString { write(1, $0, strlen($0)) }
    while true { pause() }
}
// `disk-cache-crash-child PATH read PROFILE`: a second process on the cache during the kills:
// reads every key of the workload over and over, printing after each round how many corrupt
// records it met (a kill must never leave one), until killed.
if arguments.count == 4, arguments[2] == "read", let profile = CrashWorkload.Profile(rawValue: arguments[3]) {
    let cache = try DiskCache(configuration: DiskCacheConfiguration(
        path: arguments[1], mapSize: profile.mapSize, byteBudget: profile.byteBudget))
    while true {
        for n in 0..<profile.keyCount { _ = try cache.value(forKey: CrashWorkload.key(n, profile)) }
        let line = "\(try cache.statistics().corruptEntries)\n"
        _ = line.withCString { write(1, $0, strlen($0)) }
    }
}
guard arguments.count == 4 || arguments.count == 5, let first = Int(arguments[3]) else {
    FileHandle.standardError.write(Data("usage: disk-cache-crash-child PATH DURABILITY FIRST-INDEX [roomy|tight]\n".utf8))
    exit(2)
}
let profile = arguments.count == 5 ? CrashWorkload.Profile(rawValue: arguments[4]) ?? .roomy : .roomy
let durability: Durability = switch arguments[2] {
case "none": .none
case "immediate": .immediate
default: .eventual
}
let cache = try DiskCache(configuration: DiskCacheConfiguration(
    path: arguments[1], mapSize: profile.mapSize, byteBudget: profile.byteBudget, durability: durability))
var index = first
while true {
    switch CrashWorkload.operation(index, profile) {
    case .put(let key, let value, let tags, let expired):
        // Already expired: a microsecond after the epoch.
        _ = try value.withUnsafeBytes { try cache.put($0, forKey: key, expiresAt: expired ? 1 : nil, tags: tags) }
    case .remove(let key): try cache.removeValue(forKey: key)
    case .removeTag(let tag): try cache.removeAll(taggedWith: tag)
    case .sweep: _ = try cache.removeExpired()
    }
    let line = "\(index)\n"
    _ = line.withCString { write(1, $0, strlen($0)) }
    index += 1
}

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
guard arguments.count == 4, let first = Int(arguments[3]) else {
    FileHandle.standardError.write(Data("usage: disk-cache-crash-child PATH DURABILITY FIRST-INDEX\n".utf8))
    exit(2)
}
let durability: Durability = switch arguments[2] {
case "none": .none
case "immediate": .immediate
default: .eventual
}
let cache = try DiskCache(configuration: DiskCacheConfiguration(
    path: arguments[1], mapSize: 256 << 20, byteBudget: 64 << 20, durability: durability))
var index = first
while true {
    let operation = CrashWorkload.operation(index)
    switch operation {
    case .put(let key, let value, let tags): _ = try value.withUnsafeBytes { try cache.put($0, forKey: key, tags: tags) }
    case .remove(let key): try cache.removeValue(forKey: key)
    case .removeTag(let tag): try cache.removeAll(taggedWith: tag)
    }
    let line = "\(index)\n"
    _ = line.withCString { write(1, $0, strlen($0)) }
    index += 1
}

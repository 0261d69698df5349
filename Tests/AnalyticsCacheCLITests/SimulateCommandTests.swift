import Foundation
import TestSupport
import Testing

@Suite struct SimulateCommandTests {
    @Test func printsOneDeterministicLinePerTrace() throws {
        let dir = try TestSupport.temporaryDirectory()
        defer { TestSupport.remove(dir) }
        // 10 keys cycled 100 times: after the first pass every request hits in a cache of 20.
        let small = dir.appendingPathComponent("small.keys")
        try (0..<1000).map { "\($0 % 10)\n" }.joined().write(to: small, atomically: true, encoding: .utf8)
        // A skewed trace with string keys, to show determinism across runs.
        var rng = SystemRandomNumberGenerator()
        let skewed = dir.appendingPathComponent("skewed.keys")
        try (0..<20_000).map { _ in "key-\(Int.random(in: 0..<50, using: &rng) * Int.random(in: 0..<40, using: &rng))\n" }
            .joined().write(to: skewed, atomically: true, encoding: .utf8)

        let first = try CLI.run(["simulate", "--capacity", "20", small.path, skewed.path])
        #expect(first.status == 0, "\(first.stderr)")
        let lines = first.text.split(separator: "\n").map(String.init)
        #expect(lines.count == 2)
        #expect(lines[0] == "\(small.path) capacity=20 hit_ratio=0.990000")
        #expect(lines[1].range(of: #"^.+ capacity=20 hit_ratio=0\.\d{6}$"#, options: .regularExpression) != nil)
        let second = try CLI.run(["simulate", "--capacity", "20", small.path, skewed.path])
        #expect(second.text == first.text, "replays are deterministic")
    }

    @Test func rejectsBadArguments() throws {
        #expect(try CLI.run(["simulate", "--capacity", "0", "/dev/null"]).status != 0)
        let missing = try CLI.run(["simulate", "--capacity", "10", "/no/such/trace.keys"])
        #expect(missing.status != 0)
        #expect(missing.stderr.contains("/no/such/trace.keys"))
    }
}

// swift-tools-version: 6.1
// The benchmarks of swift-analytics-cache: a separate package, built only for benchmarking, so
// the shipped `analytics-cache` binary carries neither them nor their baselines (GRDB, DuckDB's
// raw C API). Build and run from this directory:
//   swift build -c release && .build/release/analytics-cache-bench --help
import PackageDescription

let package = Package(
    name: "swift-analytics-cache-benchmarks",
    platforms: [.macOS(.v15)],
    products: [.executable(name: "analytics-cache-bench", targets: ["AnalyticsCacheBench"])],
    dependencies: [
        .package(name: "swift-analytics-cache", path: ".."),
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.8.0"),
        .package(url: "https://github.com/groue/GRDB.swift.git", from: "7.10.0"),
    ],
    targets: [
        // glibc's mallopt, for the DuckDB benchmark's allocator settings.
        .systemLibrary(name: "CMalloc"),
        .executableTarget(
            name: "AnalyticsCacheBench",
            dependencies: [
                "CMalloc",
                .product(name: "AnalyticsCache", package: "swift-analytics-cache"),
                .product(name: "DiskCache", package: "swift-analytics-cache"),
                .product(name: "DuckDBClient", package: "swift-analytics-cache"),
                .product(name: "EventProjection", package: "swift-analytics-cache"),
                .product(name: "EventStore", package: "swift-analytics-cache"),
                .product(name: "PostgresEventStore", package: "swift-analytics-cache"),
                .product(name: "MemoryCache", package: "swift-analytics-cache"),
                .product(name: "RemoteData", package: "swift-analytics-cache"),
                .product(name: "ResultFormat", package: "swift-analytics-cache"),
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                // SQLite (WAL) as the disk cache and event log benchmarks' baseline.
                .product(name: "GRDB", package: "GRDB.swift"),
            ]
        ),
    ],
    swiftLanguageModes: [.v6]
)

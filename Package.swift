// swift-tools-version: 6.2
import PackageDescription

let package = Package(
    name: "swift-analytics-cache",
    platforms: [.macOS(.v15)],
    products: [
        .library(name: "MemoryCache", targets: ["MemoryCache"]),
        .library(name: "ResultFormat", targets: ["ResultFormat"]),
        .library(name: "DuckDBClient", targets: ["DuckDBClient"]),
        .library(name: "DiskCache", targets: ["DiskCache"]),
        .library(name: "EventLogCore", targets: ["EventLogCore"]),
        .library(name: "EventStore", targets: ["EventStore"]),
        .library(name: "PostgresEventStore", targets: ["PostgresEventStore"]),
        .library(name: "EventProjection", targets: ["EventProjection"]),
        .library(name: "RemoteData", targets: ["RemoteData"]),
        .library(name: "AnalyticsCache", targets: ["AnalyticsCache"]),
        .library(name: "AnalyticsServer", targets: ["AnalyticsServer"]),
        .library(name: "Deployment", targets: ["Deployment"]),
        .executable(name: "analytics-cache", targets: ["AnalyticsCacheCLI"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.0"),
        .package(url: "https://github.com/apple/swift-metrics.git", from: "2.13.0"),
        .package(url: "https://github.com/apple/swift-collections.git", from: "1.6.0"),
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.8.0"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle.git", from: "2.13.0"),
        .package(url: "https://github.com/groue/GRDB.swift.git", from: "7.10.0"),
        // The HTTP server (Hummingbird 2 needs swift-tools-version 6.2), its metrics, tokens, and
        // the tests' HTTP client.
        .package(url: "https://github.com/hummingbird-project/hummingbird.git", from: "2.28.1"),
        .package(url: "https://github.com/swift-server/swift-prometheus.git", from: "2.4.1"),
        .package(url: "https://github.com/vapor/jwt-kit.git", from: "5.7.1"),
        .package(url: "https://github.com/swift-server/async-http-client.git", from: "1.37.0"),
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.81.0"),
        // YAML configuration files (query catalogs), decoded into the same types as JSON.
        .package(url: "https://github.com/jpsim/Yams.git", from: "6.0.0"),
        // The shared event log of several nodes (PostgreSQL: the log, LISTEN/NOTIFY).
        .package(url: "https://github.com/vapor/postgres-nio.git", from: "1.33.0"),
        .package(url: "https://github.com/apple/swift-nio-ssl.git", from: "2.37.0"),
        // SHA-256 and HMAC for S3 request signing (RemoteData).
        .package(url: "https://github.com/apple/swift-crypto.git", "3.12.0"..<"5.0.0"),
    ],
    targets: [
        // L1: the in-memory cache; no I/O, no dependency on the other layers.
        .target(
            name: "MemoryCache",
            dependencies: [
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]
        ),
        // L3: DuckDB's C API, linked through the duckdb.pc that scripts/bootstrap.sh installs.
        .systemLibrary(name: "CDuckDB", pkgConfig: "duckdb"),
        // L2: LMDB's C API from Debian's liblmdb-dev (installed by scripts/bootstrap.sh).
        .systemLibrary(name: "CLMDB", pkgConfig: "lmdb", providers: [.apt(["liblmdb-dev"])]),
        // CRC-32C with the CPU's instruction where there is one (the Swift fallback is in DiskCache).
        .target(name: "CCRC32C"),
        .target(
            name: "DiskCache",
            dependencies: [
                "CCRC32C",
                "CLMDB",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]
        ),
        // The event log's types and protocol, with no backend: what the cache, the projector and a
        // PostgreSQL log depend on.
        .target(name: "EventLogCore"),
        // The append-only event log (SQLite through GRDB).
        .target(
            name: "EventStore",
            dependencies: [
                "EventLogCore",
                .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]
        ),
        // Committed events applied to DuckDB tables, with the checkpoint in the same transaction.
        .target(
            name: "EventProjection",
            dependencies: [
                "EventLogCore", "DuckDBClient", "ResultFormat",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]
        ),
        // The layered cache: registry, keys, dependencies, L1 → L2 → DuckDB, invalidation, write path.
        .target(
            name: "AnalyticsCache",
            dependencies: [
                "DiskCache", "DuckDBClient", "EventLogCore", "EventProjection", "MemoryCache", "RemoteData", "ResultFormat",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Yams", package: "Yams"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]
        ),
        // The HTTP API, the SSE stream and the dashboard over an AnalyticsCache (Hummingbird 2).
        .target(
            name: "AnalyticsServer",
            dependencies: [
                "AnalyticsCache", "DuckDBClient", "EventLogCore", "EventProjection", "MemoryCache", "ResultFormat",
                .product(name: "Yams", package: "Yams"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "JWTKit", package: "jwt-kit"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]
        ),
        // Config-only deployments: datasets, event schemas, projections and queries from one file.
        .target(
            name: "Deployment",
            dependencies: [
                "AnalyticsCache", "DuckDBClient", "EventLogCore", "EventProjection", "RemoteData",
                .product(name: "Yams", package: "Yams"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
            ]
        ),
        // The event log in PostgreSQL, for several nodes sharing one log.
        .target(
            name: "PostgresEventStore",
            dependencies: [
                "EventLogCore",
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]
        ),
        // Data versions of remote datasets (HTTP ETags, S3 listings, DuckLake snapshots).
        .target(
            name: "RemoteData",
            dependencies: ["DuckDBClient", "ResultFormat", .product(name: "Crypto", package: "swift-crypto")]
        ),
        .target(
            name: "ResultFormat"
        ),
        .target(
            name: "DuckDBClient",
            dependencies: [
                "CDuckDB",
                "ResultFormat",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "DequeModule", package: "swift-collections"),
            ]
        ),
        // The command-line tool. Benchmarks live in the separate package in Benchmarks/, so
        // neither they nor their baselines (GRDB, DuckDB's raw C API) are in this binary.
        .executableTarget(
            name: "AnalyticsCacheCLI",
            dependencies: [
                "AnalyticsCache", "AnalyticsServer", "EventStore", "EventProjection", "DiskCache", "PostgresEventStore", "EventLogCore",
                "DuckDBClient", "Deployment",
                "MemoryCache",
                "RemoteData",
                "ResultFormat",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
            ]
        ),
        // Helpers shared by the test targets (Python peer, temporary files); not a product.
        .target(name: "TestSupport", dependencies: ["CTestSupport"], path: "Tests/TestSupport"),
        // pidfd_open/pidfd_send_signal for the test children's watchdog (a pid can be reused; a pidfd cannot).
        .target(name: "CTestSupport", path: "Tests/CTestSupport"),
        .testTarget(
            name: "MemoryCacheTests",
            dependencies: ["MemoryCache", "TestSupport", .product(name: "MetricsTestKit", package: "swift-metrics")]
        ),
        .testTarget(name: "ResultFormatTests", dependencies: ["ResultFormat", "TestSupport"]),
        .testTarget(
            name: "DeploymentTests",
            dependencies: ["Deployment", "CacheTestSupport", "AnalyticsCache", "DuckDBClient", "EventLogCore", "EventProjection", "EventStore", "TestSupport",
                           .product(name: "MetricsTestKit", package: "swift-metrics")]),
        // A complete cache over real parts, shared by the cache's and the server's tests.
        .target(
            name: "CacheTestSupport",
            dependencies: ["AnalyticsCache", "DiskCache", "DuckDBClient", "EventStore", "EventProjection", "MemoryCache", "ResultFormat",
                           "TestSupport", .product(name: "Metrics", package: "swift-metrics"), .product(name: "Logging", package: "swift-log"),
                           .product(name: "ServiceLifecycle", package: "swift-service-lifecycle")],
            path: "Tests/CacheTestSupport"),
        .testTarget(
            name: "AnalyticsCacheTests",
            dependencies: ["CacheTestSupport", "AnalyticsCache", "DiskCache", "DuckDBClient", "EventStore", "EventProjection", "MemoryCache", "RemoteData", "ResultFormat", "TestSupport",
                           .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                           .product(name: "MetricsTestKit", package: "swift-metrics")]
        ),
        .testTarget(
            name: "DuckDBClientTests",
            dependencies: [
                "DuckDBClient", "ResultFormat", "TestSupport",
                .product(name: "MetricsTestKit", package: "swift-metrics"),
            ]
        ),
        .testTarget(
            name: "RemoteDataTests",
            dependencies: ["RemoteData", "DuckDBClient", "ResultFormat", "TestSupport"]
        ),
        .testTarget(
            name: "AnalyticsServerTests",
            dependencies: ["CacheTestSupport", "AnalyticsServer", "AnalyticsCache", "DiskCache", "DuckDBClient", "EventStore", "EventProjection", "ResultFormat",
                           "TestSupport",
                           .product(name: "Crypto", package: "swift-crypto"),
                           .product(name: "AsyncHTTPClient", package: "async-http-client"),
                           .product(name: "Hummingbird", package: "hummingbird"),
                           .product(name: "NIOPosix", package: "swift-nio"),
                           .product(name: "NIOCore", package: "swift-nio"),
                           .product(name: "JWTKit", package: "jwt-kit"),
                           .product(name: "ServiceLifecycle", package: "swift-service-lifecycle")]
        ),
        .testTarget(
            name: "PostgresEventStoreTests",
            dependencies: ["PostgresEventStore", "EventLogCore", "TestSupport", .product(name: "PostgresNIO", package: "postgres-nio")]),
        .testTarget(
            name: "AnalyticsCacheCLITests",
            dependencies: ["AnalyticsCacheCLI", "TestSupport", .product(name: "Crypto", package: "swift-crypto")]),
        .target(name: "EventWorkload", dependencies: ["EventStore", "EventProjection", "DuckDBClient"], path: "Tests/EventWorkload"),
        .executableTarget(
            name: "event-store-child", dependencies: ["EventStore", "EventProjection", "DuckDBClient", "EventWorkload"],
            path: "Tests/EventStoreChild"),
        .testTarget(
            name: "EventStoreTests",
            dependencies: ["EventStore", "EventProjection", "DuckDBClient", "EventWorkload", "event-store-child", "TestSupport",
                           .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                           .product(name: "MetricsTestKit", package: "swift-metrics"),
                           .product(name: "GRDB", package: "GRDB.swift")]
        ),
        // The crash test's workload, and the child process that runs it until it is killed.
        .target(name: "CrashWorkload", path: "Tests/CrashWorkload"),
        .executableTarget(
            name: "disk-cache-crash-child", dependencies: ["DiskCache", "CrashWorkload"], path: "Tests/DiskCacheCrashChild"),
        .testTarget(
            name: "DiskCacheTests",
            dependencies: [
                "DiskCache", "CrashWorkload", "disk-cache-crash-child", "TestSupport",
                .product(name: "MetricsTestKit", package: "swift-metrics"),
            ]
        ),
    ],
    swiftLanguageModes: [.v6]
)

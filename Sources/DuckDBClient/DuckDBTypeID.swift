import CDuckDB

/// Type ids that not every supported libduckdb's `duckdb.h` declares, by their stable numbers, so
/// the package builds against DuckDB 1.4 LTS (the pin) and 2.0 alike. DuckDB never renumbers a
/// `DUCKDB_TYPE`; a library that lacks the type simply never reports the id.
enum DuckDBTypeID {
    /// `GEOMETRY` (DuckDB 2.0 and later).
    static let geometry = DUCKDB_TYPE(rawValue: 40)
    /// `VARIANT` (DuckDB 2.0 and later).
    static let variant = DUCKDB_TYPE(rawValue: 41)
    /// `TIMESTAMP WITH TIME ZONE` in nanoseconds (DuckDB 2.0 and later).
    static let timestampTZNanos = DUCKDB_TYPE(rawValue: 42)
}

/// A DuckDB extension to load when a ``Database`` opens.
///
/// DuckDB 1.4 LTS publishes its official, signed extension binaries (httpfs, ducklake, aws,
/// iceberg, postgres, …) on PyPI as `duckdb-ext-NAME` wheels; `scripts/bootstrap.sh` installs the
/// ones the project uses into `.venv/duckdb_extensions`, laid out as DuckDB's own extension
/// directory (`DIR/v1.4.4/linux_amd64/NAME.duckdb_extension`). Nothing is ever downloaded at run
/// time: a database with an ``Database/Configuration/extensionDirectory`` turns DuckDB's
/// auto-install off.
public struct DuckDBExtension: Sendable, Hashable, CustomStringConvertible {
    /// Where the binary comes from.
    public enum Source: Sendable, Hashable {
        /// By name, from the configured extension directory (or statically linked into libduckdb).
        case named(String)
        /// A `.duckdb_extension` file.
        case path(String)
    }

    /// Where the binary comes from.
    public var source: Source

    /// An extension loaded by name from the extension directory, e.g. `httpfs`, `ducklake`.
    /// - Parameter name: the extension's name
    /// - Returns: the extension
    public static func named(_ name: String) -> DuckDBExtension { .init(source: .named(name)) }

    /// An extension loaded from a file.
    /// - Parameter path: a `.duckdb_extension` file
    /// - Returns: the extension
    public static func path(_ path: String) -> DuckDBExtension { .init(source: .path(path)) }

    /// The name in error messages: the extension's name, or the file's name without its suffix.
    public var name: String {
        switch source {
        case .named(let name): name
        case .path(let path):
            String((path.split(separator: "/").last.map(String.init) ?? path).trimmingSuffix(".duckdb_extension"))
        }
    }

    /// `httpfs`, or the file's path.
    public var description: String {
        switch source {
        case .named(let name): name
        case .path(let path): path
        }
    }

    /// Whether a name is a plain extension name (letters, digits, `_`), as `LOAD name` needs.
    static func isValidName(_ name: String) -> Bool {
        !name.isEmpty && name.utf8.allSatisfy { ($0 >= 97 && $0 <= 122) || ($0 >= 65 && $0 <= 90) || ($0 >= 48 && $0 <= 57) || $0 == 95 }
    }
}

extension String {
    fileprivate func trimmingSuffix(_ suffix: String) -> Substring {
        hasSuffix(suffix) ? dropLast(suffix.count) : self[...]
    }
}

#if !_endian(little)
#error("The Arrow IPC writer and reader copy values as they lie in memory: little-endian hosts only")
#endif

/// The Arrow format constants this module uses, from Arrow's `Schema.fbs` and `Message.fbs`.
enum Arrow {
    /// `MetadataVersion.V5`, written; V4 and V5 are read (they differ only for unions).
    static let metadataVersion: Int16 = 4
    /// The marker in front of each message's metadata length.
    static let continuation: UInt32 = 0xFFFF_FFFF
    /// The field-level custom metadata key under which the writer records the DuckDB type.
    static let duckDBTypeKey = "duckdb.type"

    /// `MessageHeader` union members.
    enum MessageHeader: UInt8 {
        case schema = 1, dictionaryBatch = 2, recordBatch = 3
    }

    /// `Type` union members.
    enum TypeID: UInt8 {
        case null = 1, int, floatingPoint, binary, utf8, bool, decimal, date, time, timestamp, interval
        case list, structure, union, fixedSizeBinary, fixedSizeList, map
    }

    /// Arrow's canonical extension-type metadata keys, and DuckDB's opaque UHUGEINT.
    static let extensionNameKey = "ARROW:extension:name"
    static let extensionMetadataKey = "ARROW:extension:metadata"
    static let opaqueExtension = "arrow.opaque"
    static let uhugeintOpaqueMetadata = #"{"type_name":"uhugeint","vendor_name":"DuckDB"}"#
    /// How deeply types may nest in a stream this reader opens (a hostile schema cannot recurse
    /// without limit).
    static let maxNestingDepth = 64

    /// Table slots (field ids in declaration order).
    enum Slot {
        // Message
        static let messageVersion = 0, messageHeaderType = 1, messageHeader = 2, messageBodyLength = 3
        // Schema
        static let schemaEndianness = 0, schemaFields = 1, schemaFeatures = 3
        // Field
        static let fieldName = 0, fieldNullable = 1, fieldTypeType = 2, fieldType = 3
        static let fieldDictionary = 4, fieldChildren = 5, fieldMetadata = 6
        // KeyValue
        static let key = 0, value = 1
        // RecordBatch
        static let batchLength = 0, batchNodes = 1, batchBuffers = 2, batchCompression = 3
    }
}

/// How a column's values lie in Arrow buffers.
enum PhysicalLayout: Equatable, Sendable {
    /// One bit per value (Arrow `Bool`).
    case bitmap
    /// `width` bytes per value.
    case fixed(width: Int)
    /// 32-bit offsets and a data buffer (Arrow `Utf8` and `Binary`).
    case variable
    /// 32-bit offsets into one child array (Arrow `List` and `Map`).
    case list
    /// No buffer of its own besides validity; one child array per field (Arrow `Struct`).
    case structure

    /// The number of body buffers per array node (validity included).
    var bufferCount: Int {
        switch self {
        case .variable: 3
        case .structure: 1
        default: 2
        }
    }
}

extension ColumnType {
    /// How values of this type are stored in Arrow buffers.
    var physicalLayout: PhysicalLayout {
        switch self {
        case .boolean: .bitmap
        case .int8, .uint8: .fixed(width: 1)
        case .int16, .uint16: .fixed(width: 2)
        case .int32, .uint32, .float, .date: .fixed(width: 4)
        case .int64, .uint64, .double, .time, .timestamp, .timestampTZ: .fixed(width: 8)
        case .interval, .hugeint, .uhugeint, .decimal: .fixed(width: 16)
        case .varchar, .uuid, .enumeration, .blob: .variable
        case .list, .map: .list
        case .structure: .structure
        }
    }

    /// The types of the child arrays, with their Arrow field names and nullability, as DuckDB's
    /// Arrow export names them: a LIST's `l`, a MAP's non-null `entries` struct of a non-null
    /// `key` and a `value`, a STRUCT's fields.
    var arrowChildren: [(name: String, type: ColumnType, nullable: Bool)] { arrowChildren(isMapEntry: false) }

    /// The child arrays; `isMapEntry` for a MAP's `entries` struct, whose `key` is not nullable
    /// (any other struct's fields are, even one whose fields happen to be named key and value).
    func arrowChildren(isMapEntry: Bool) -> [(name: String, type: ColumnType, nullable: Bool)] {
        switch self {
        case .list(let element): [("l", element, true)]
        case .map(let key, let value): [("entries", .mapEntry(key: key, value: value), false)]
        case .structure(let fields): fields.map { ($0.name, $0.type, !(isMapEntry && $0.name == "key")) }
        default: []
        }
    }

    /// The name of a LIST's element column or a MAP's entry column (`l`, `entries`).
    package var arrowElementName: String { arrowChildren.first?.name ?? "l" }



    /// Writes the Arrow type table for this column type.
    /// - Returns: the `Type` union member and its table
    func writeArrowType(into builder: inout FlatBufferBuilder) -> (Arrow.TypeID, FlatBufferBuilder.Offset) {
        func integer(_ bits: Int32, signed: Bool) -> (Arrow.TypeID, FlatBufferBuilder.Offset) {
            builder.startTable()
            builder.add(bits, slot: 0, default: 0)
            builder.add(UInt8(signed ? 1 : 0), slot: 1, default: 0)
            return (.int, builder.endTable())
        }
        func table(_ id: Arrow.TypeID, _ fields: (inout FlatBufferBuilder) -> Void = { _ in }) -> (Arrow.TypeID, FlatBufferBuilder.Offset) {
            builder.startTable()
            fields(&builder)
            return (id, builder.endTable())
        }
        switch self {
        case .boolean: return table(.bool)
        case .int8: return integer(8, signed: true)
        case .int16: return integer(16, signed: true)
        case .int32: return integer(32, signed: true)
        case .int64: return integer(64, signed: true)
        case .uint8: return integer(8, signed: false)
        case .uint16: return integer(16, signed: false)
        case .uint32: return integer(32, signed: false)
        case .uint64: return integer(64, signed: false)
        case .float: return table(.floatingPoint) { $0.add(Int16(1), slot: 0, default: 0) }  // SINGLE
        case .double:
            return table(.floatingPoint) { $0.add(Int16(2), slot: 0, default: 0) }  // DOUBLE
        case .hugeint:
            // DuckDB's export: decimal128(38, 0) (a HUGEINT beyond 38 digits still fits 128 bits).
            return table(.decimal) {
                $0.add(Int32(38), slot: 0, default: 0)
                $0.add(Int32(0), slot: 1, default: 0)
                $0.add(Int32(128), slot: 2, default: 128)
            }
        case .decimal(let width, let scale):
            return table(.decimal) {
                $0.add(Int32(width), slot: 0, default: 0)
                $0.add(Int32(scale), slot: 1, default: 0)
                $0.add(Int32(128), slot: 2, default: 128)
            }
        case .uhugeint:
            // DuckDB's export: the opaque extension type over fixed_size_binary(16).
            return table(.fixedSizeBinary) { $0.add(Int32(16), slot: 0, default: 0) }
        case .list: return table(.list)
        case .structure: return table(.structure)
        case .map: return table(.map)  // keysSorted: false
        case .varchar, .uuid, .enumeration: return table(.utf8)
        case .blob: return table(.binary)
        case .date: return table(.date) { $0.add(Int16(0), slot: 0, default: 1) }  // DAY
        case .time:
            return table(.time) {
                $0.add(Int16(2), slot: 0, default: 1)  // MICROSECOND
                $0.add(Int32(64), slot: 1, default: 32)
            }
        case .timestamp, .timestampTZ:
            let zone = self == .timestampTZ ? builder.createString("UTC") : nil
            return table(.timestamp) {
                $0.add(Int16(2), slot: 0, default: 0)  // MICROSECOND
                if let zone { $0.add(zone, slot: 1) }
            }
        case .interval: return table(.interval) { $0.add(Int16(2), slot: 0, default: 0) }  // MONTH_DAY_NANO
        }
    }

    /// The column type an Arrow field describes, refined by the writer's `duckdb.type` metadata when
    /// that names a type with the same storage (HUGEINT, UUID, ENUM).
    /// - Parameters:
    ///   - typeID: the `Type` union member
    ///   - table: its table
    ///   - duckDBType: the field's `duckdb.type` metadata, if any
    ///   - isUHugeInt: whether the field's extension metadata names DuckDB's opaque UHUGEINT
    ///   - children: the field's child fields, already read
    /// - Throws: ``ArchiveError`` for types this reader does not support
    static func fromArrow(
        typeID: UInt8, table: FlatBufferTable, duckDBType: String?, isUHugeInt: Bool = false, children: [ArchivedField] = []
    ) throws -> ColumnType {
        func unsupported(_ what: String) -> ArchiveError { ArchiveError(.unsupported, "Arrow type \(what) is not supported") }
        func childCount(_ n: Int, _ what: String) throws {
            guard children.count == n else {
                throw ArchiveError(.malformedMetadata, "\(what) with \(children.count) children")
            }
        }
        switch Arrow.TypeID(rawValue: typeID) {
        case .list?:
            try childCount(1, "list")
            return .list(children[0].type)
        case .structure?:
            guard !children.isEmpty else { throw ArchiveError(.malformedMetadata, "struct without fields") }
            return .structure(children.map { StructField(name: $0.name, type: $0.type) })
        case .map?:
            try childCount(1, "map")
            guard case .structure(let entry) = children[0].type, entry.count == 2 else {
                throw ArchiveError(.malformedMetadata, "map whose entries are not a struct of key and value")
            }
            return .map(key: entry[0].type, value: entry[1].type)
        case .fixedSizeBinary?:
            try childCount(0, "fixed-size binary")
            guard try table.scalar(0, default: Int32(0)) == 16, isUHugeInt || duckDBType == "UHUGEINT" else {
                throw unsupported("fixed_size_binary (other than DuckDB's UHUGEINT)")
            }
            return .uhugeint
        case .decimal?:
            try childCount(0, "decimal")
            let precision: Int32 = try table.scalar(0, default: 0)
            let scale: Int32 = try table.scalar(1, default: 0)
            guard try table.scalar(2, default: Int32(128)) == 128 else { throw unsupported("decimal other than decimal128") }
            guard precision >= 1, precision <= 38, scale >= 0, scale <= precision else {
                throw ArchiveError(.malformedMetadata, "decimal(\(precision), \(scale))")
            }
            if duckDBType == "HUGEINT", precision == 38, scale == 0 { return .hugeint }
            return .decimal(width: UInt8(precision), scale: UInt8(scale))
        default:
            let base = try baseType(typeID: typeID, table: table)
            try childCount(0, "a scalar type")
            guard let duckDBType, let refined = ColumnType(duckDBRefinement: duckDBType), refined.refines(base) else {
                return base
            }
            return refined
        }
    }

    private static func baseType(typeID: UInt8, table: FlatBufferTable) throws -> ColumnType {
        func unsupported(_ what: String) -> ArchiveError { ArchiveError(.unsupported, "Arrow type \(what) is not supported") }
        guard let id = Arrow.TypeID(rawValue: typeID) else { throw unsupported("#\(typeID)") }
        switch id {
        case .bool: return .boolean
        case .utf8: return .varchar
        case .binary: return .blob
        case .int:
            let bits: Int32 = try table.scalar(0, default: 0)
            let signed: UInt8 = try table.scalar(1, default: 0)
            switch (bits, signed != 0) {
            case (8, true): return .int8
            case (16, true): return .int16
            case (32, true): return .int32
            case (64, true): return .int64
            case (8, false): return .uint8
            case (16, false): return .uint16
            case (32, false): return .uint32
            case (64, false): return .uint64
            default: throw ArchiveError(.malformedMetadata, "integer of \(bits) bits")
            }
        case .floatingPoint:
            switch try table.scalar(0, default: Int16(0)) {
            case 1: return .float
            case 2: return .double
            default: throw unsupported("half-precision float")
            }
        case .date:
            guard try table.scalar(0, default: Int16(1)) == 0 else { throw unsupported("date64 (milliseconds)") }
            return .date
        case .time:
            guard try table.scalar(0, default: Int16(1)) == 2, try table.scalar(1, default: Int32(32)) == 64 else {
                throw unsupported("time with a unit other than microseconds")
            }
            return .time
        case .timestamp:
            guard try table.scalar(0, default: Int16(0)) == 2 else {
                throw unsupported("timestamp with a unit other than microseconds")
            }
            // Arrow stores zoned timestamps as UTC instants whatever the zone's name.
            let zone = try table.string(1) ?? ""
            return zone.isEmpty ? .timestamp : .timestampTZ
        case .interval:
            guard try table.scalar(0, default: Int16(0)) == 2 else {
                throw unsupported("interval other than month_day_nano")
            }
            return .interval
        case .null: throw unsupported("null")
        case .decimal, .list, .structure, .map, .fixedSizeBinary: throw ArchiveError(.malformedMetadata, "type #\(typeID) read as a scalar")
        case .union: throw unsupported("union")
        case .fixedSizeList: throw unsupported("fixed_size_list")
        }
    }

    /// Parses the `duckdb.type` spellings that refine a scalar Arrow type: `UUID`, `ENUM`.
    init?(duckDBRefinement name: String) {
        switch name {
        case "UUID": self = .uuid
        case "ENUM": self = .enumeration
        default: return nil
        }
    }

    /// Whether `self` is a DuckDB type that Arrow spells as `base`.
    private func refines(_ base: ColumnType) -> Bool {
        switch (self, base) {
        case (.uuid, .varchar), (.enumeration, .varchar): true
        default: false
        }
    }
}

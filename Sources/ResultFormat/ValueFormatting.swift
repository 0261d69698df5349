/// Text forms of values shared by the JSON and CSV encoders, written straight into a byte buffer.
///
/// - Integers: decimal digits.
/// - FLOAT/DOUBLE/DECIMAL: the shortest decimal that reads back to the same binary value (Swift's
///   `description`, e.g. `0.1`, `1e-05`, `3.0`); NaN and ±infinity have no JSON form and become
///   `null` in JSON, `nan`/`inf`/`-inf` in CSV.
/// - HUGEINT/UHUGEINT: exact decimal digits.
/// - DECIMAL: exact, with exactly `scale` fractional digits, as DuckDB prints it (`1.50`, `-0.05`).
/// - DATE: ISO 8601 `YYYY-MM-DD`, proleptic Gregorian, astronomical years (`0000` is 1 BC, earlier
///   years negative); DuckDB's infinite dates print as `infinity` / `-infinity`.
/// - TIME: `HH:MM:SS` plus `.ffffff` with trailing zeros removed when there is a fraction.
/// - TIMESTAMP: date, separator, time (`T` in JSON, a space in CSV); TIMESTAMPTZ adds `Z` (UTC).
/// - INTERVAL: ISO 8601 duration `P{months}M{days}DT{seconds}S`, e.g. `P1M2DT3.5S`, `P0D` for zero.
/// - BLOB: base64 (RFC 4648, with padding).
package enum ValueFormatting {
    static let microsPerSecond: Int64 = 1_000_000
    static let microsPerDay: Int64 = 86_400_000_000

    @inline(__always)
    static func appendInt(_ value: Int64, to out: inout [UInt8]) {
        if value < 0 {
            out.append(UInt8(ascii: "-"))
            appendUInt(value.magnitude, to: &out)
        } else {
            appendUInt(UInt64(value), to: &out)
        }
    }

    @inline(__always)
    static func appendUInt(_ value: UInt64, to out: inout [UInt8]) {
        if value < 10 {
            out.append(UInt8(truncatingIfNeeded: value) &+ 48)
            return
        }
        withUnsafeTemporaryAllocation(of: UInt8.self, capacity: 20) { buf in
            var v = value
            var i = 20
            while v > 0 {
                i -= 1
                buf[i] = UInt8(truncatingIfNeeded: v % 10) &+ 48
                v /= 10
            }
            out.append(contentsOf: UnsafeBufferPointer(rebasing: buf[i..<20]))
        }
    }

    /// Appends the decimal digits of a 128-bit integer.
    static func appendInt128(_ value: Int128, to out: inout [UInt8]) {
        if let small = Int64(exactly: value) { return appendInt(small, to: &out) }
        if value < 0 { out.append(UInt8(ascii: "-")) }
        appendUInt128(value.magnitude, to: &out)
    }

    /// Appends the decimal digits of an unsigned 128-bit integer.
    static func appendUInt128(_ value: UInt128, to out: inout [UInt8]) {
        if let small = UInt64(exactly: value) { return appendUInt(small, to: &out) }
        withDigits(of: value) { out.append(contentsOf: $0) }
    }

    /// Calls `body` with the decimal digits of `value` (at least one), in a stack buffer.
    @inline(__always)
    static func withDigits(of value: UInt128, _ body: (UnsafeBufferPointer<UInt8>) -> Void) {
        withUnsafeTemporaryAllocation(of: UInt8.self, capacity: 40) { buf in
            var i = 40
            if let small = UInt64(exactly: value) {
                var w = small
                repeat {
                    i -= 1
                    buf[i] = UInt8(truncatingIfNeeded: w % 10) &+ 48
                    w /= 10
                } while w > 0
            } else {
                // 19 digits at a time through UInt64 arithmetic.
                var v = value
                while v > 0 {
                    let (q, r) = v.quotientAndRemainder(dividingBy: 10_000_000_000_000_000_000)
                    var chunk = UInt64(r)
                    for _ in 0..<19 {
                        i -= 1
                        buf[i] = UInt8(truncatingIfNeeded: chunk % 10) &+ 48
                        chunk /= 10
                        if q == 0 && chunk == 0 { break }
                    }
                    v = q
                }
            }
            body(UnsafeBufferPointer(rebasing: buf[i..<40]))
        }
    }

    /// Appends an exact decimal: the unscaled value's digits with a point before the last `scale`
    /// of them (at least one digit before the point).
    static func appendDecimal(_ unscaled: Int128, scale: Int, to out: inout [UInt8]) {
        guard scale > 0 else { return appendInt128(unscaled, to: &out) }
        if unscaled < 0 { out.append(UInt8(ascii: "-")) }
        withDigits(of: unscaled.magnitude) { digits in
            let count = digits.count
            if count <= scale {
                out.append(UInt8(ascii: "0"))
                out.append(UInt8(ascii: "."))
                out.append(contentsOf: repeatElement(UInt8(ascii: "0"), count: scale - count))
                out.append(contentsOf: digits)
            } else {
                out.append(contentsOf: UnsafeBufferPointer(rebasing: digits[..<(count - scale)]))
                out.append(UInt8(ascii: "."))
                out.append(contentsOf: UnsafeBufferPointer(rebasing: digits[(count - scale)...]))
            }
        }
    }

    /// Whether a JSON reader that parses numbers as doubles reads this integer back exactly.
    static func isDoubleExact(_ value: Int128) -> Bool { value.magnitude <= 1 << 53 }

    /// Whether a JSON reader that parses numbers as doubles reads this decimal back as the same
    /// decimal: at most 15 significant digits (every such decimal survives the round trip).
    @inline(__always)
    static func isDoubleExact(decimal unscaled: Int128) -> Bool {
        var v = unscaled.magnitude
        if v < 1_000_000_000_000_000 { return true }
        while v != 0 && v % 10 == 0 { v /= 10 }
        return v < 1_000_000_000_000_000
    }

    /// Appends `value` zero-padded to `width` digits.
    static func appendPadded(_ value: Int64, width: Int, to out: inout [UInt8]) {
        var digits = 1
        var v = value / 10
        while v > 0 { digits += 1; v /= 10 }
        if digits < width { out.append(contentsOf: repeatElement(UInt8(ascii: "0"), count: width - digits)) }
        appendUInt(UInt64(value), to: &out)
    }

    static func appendDouble(_ value: Double, integral: Bool, to out: inout [UInt8]) {
        if integral, value.rounded() == value, abs(value) < 9.223372036854775807e18 {
            appendInt(Int64(value), to: &out)
        } else {
            out.append(contentsOf: value.description.utf8)
        }
    }

    /// (year, month, day) of a day count since 1970-01-01 (proleptic Gregorian).
    package static func civil(fromDays days: Int64) -> (year: Int64, month: Int64, day: Int64) {
        let z = days + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let doe = z - era * 146_097
        let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100)
        let mp = (5 * doy + 2) / 153
        let day = doy - (153 * mp + 2) / 5 + 1
        let month = mp < 10 ? mp + 3 : mp - 9
        return (yoe + era * 400 + (month <= 2 ? 1 : 0), month, day)
    }

    static func appendDate(days: Int64, to out: inout [UInt8]) {
        let (y, m, d) = civil(fromDays: days)
        if y < 0 {
            out.append(UInt8(ascii: "-"))
            appendPadded(-y, width: 4, to: &out)
        } else {
            appendPadded(y, width: 4, to: &out)
        }
        out.append(UInt8(ascii: "-"))
        appendPadded(m, width: 2, to: &out)
        out.append(UInt8(ascii: "-"))
        appendPadded(d, width: 2, to: &out)
    }

    static func appendDate(_ days: Int32, to out: inout [UInt8]) {
        if days == Int32.max { out.append(contentsOf: "infinity".utf8); return }
        if days == -Int32.max { out.append(contentsOf: "-infinity".utf8); return }
        appendDate(days: Int64(days), to: &out)
    }

    /// `HH:MM:SS[.ffffff]` for microseconds since midnight. DuckDB's TIME lies in 0…24 h; any other
    /// value (only corrupt bytes hold one) still prints, with more hour digits or a leading `-`.
    static func appendTime(_ micros: Int64, to out: inout [UInt8]) {
        if micros < 0 { out.append(UInt8(ascii: "-")) }
        let magnitude = micros.magnitude
        let seconds = Int64(magnitude / UInt64(microsPerSecond))
        let fraction = Int64(magnitude % UInt64(microsPerSecond))
        appendPadded(seconds / 3600, width: 2, to: &out)
        out.append(UInt8(ascii: ":"))
        appendPadded(seconds / 60 % 60, width: 2, to: &out)
        out.append(UInt8(ascii: ":"))
        appendPadded(seconds % 60, width: 2, to: &out)
        appendFraction(fraction, to: &out)
    }

    /// `.ffffff` without trailing zeros; nothing for zero.
    static func appendFraction(_ micros: Int64, to out: inout [UInt8]) {
        guard micros != 0 else { return }
        var digits = 6
        var f = micros
        while f % 10 == 0 { f /= 10; digits -= 1 }
        out.append(UInt8(ascii: "."))
        appendPadded(f, width: digits, to: &out)
    }

    static func appendTimestamp(_ micros: Int64, separator: UInt8, utc: Bool, to out: inout [UInt8]) {
        if micros == Int64.max { out.append(contentsOf: "infinity".utf8); return }
        if micros == -Int64.max { out.append(contentsOf: "-infinity".utf8); return }
        var days = micros / microsPerDay
        var rest = micros % microsPerDay
        if rest < 0 { days -= 1; rest += microsPerDay }
        appendDate(days: days, to: &out)
        out.append(separator)
        appendTime(rest, to: &out)
        if utc { out.append(UInt8(ascii: "Z")) }
    }

    static func appendInterval(_ interval: Interval, to out: inout [UInt8]) {
        out.append(UInt8(ascii: "P"))
        if interval.months == 0 && interval.days == 0 && interval.micros == 0 {
            out.append(contentsOf: "0D".utf8)
            return
        }
        if interval.months != 0 {
            appendInt(Int64(interval.months), to: &out)
            out.append(UInt8(ascii: "M"))
        }
        if interval.days != 0 {
            appendInt(Int64(interval.days), to: &out)
            out.append(UInt8(ascii: "D"))
        }
        if interval.micros != 0 {
            out.append(UInt8(ascii: "T"))
            if interval.micros < 0 { out.append(UInt8(ascii: "-")) }
            let magnitude = interval.micros.magnitude
            appendUInt(magnitude / UInt64(microsPerSecond), to: &out)
            appendFraction(Int64(magnitude % UInt64(microsPerSecond)), to: &out)
            out.append(UInt8(ascii: "S"))
        }
    }

    private static let base64Alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/".utf8)

    static func appendBase64(_ bytes: UnsafeRawBufferPointer, to out: inout [UInt8]) {
        let table = base64Alphabet
        var i = bytes.startIndex
        let end = bytes.endIndex
        while end - i >= 3 {
            let n = UInt32(bytes[i]) << 16 | UInt32(bytes[i + 1]) << 8 | UInt32(bytes[i + 2])
            out.append(table[Int(n >> 18 & 63)])
            out.append(table[Int(n >> 12 & 63)])
            out.append(table[Int(n >> 6 & 63)])
            out.append(table[Int(n & 63)])
            i += 3
        }
        let rest = end - i
        if rest > 0 {
            var n = UInt32(bytes[i]) << 16
            if rest == 2 { n |= UInt32(bytes[i + 1]) << 8 }
            out.append(table[Int(n >> 18 & 63)])
            out.append(table[Int(n >> 12 & 63)])
            out.append(rest == 2 ? table[Int(n >> 6 & 63)] : UInt8(ascii: "="))
            out.append(UInt8(ascii: "="))
        }
    }
}

import AnalyticsCache
import Foundation
import ResultFormat

/// One panel of the dashboard: a query and how its result is drawn.
public struct DashboardPanel: Sendable {
    /// How a result is drawn.
    public enum Kind: Sendable {
        /// Horizontal bars: a label column and a numeric value column.
        case bars(label: String, value: String)
        /// The rows as a table.
        case table
        /// One row of figures, large.
        case figures
    }

    /// The query it shows (with its default parameters).
    public var query: String
    /// Its title.
    public var title: String
    /// How it is drawn.
    public var kind: Kind
    /// Its name in the page (unique among the panels).
    public var name: String

    /// - Parameters:
    ///   - query: the query's id
    ///   - title: the title
    ///   - kind: how it is drawn
    ///   - name: its name in the page (default: the query's id; give one when a query has two panels)
    public init(query: String, title: String, kind: Kind, name: String? = nil) {
        self.query = query
        self.title = title
        self.kind = kind
        self.name = name ?? query
    }

    /// The id of its element in the page.
    var elementID: String { "panel-" + name.map { $0.isLetter || $0.isNumber ? String($0) : "-" }.joined() }
}

/// Server-side rendering of the dashboard: the page, and each panel as an HTML fragment (what the
/// live stream pushes; the page's script swaps it in). Pure: results in, HTML out.
public enum DashboardRenderer {
    /// One panel's HTML (one line: it travels as SSE data).
    public static func panel(_ panel: DashboardPanel, result: AnalyticsResult?) -> String {
        var html = #"<section class="panel" id="\#(panel.elementID)" data-query="\#(escape(panel.query))"><h2>\#(escape(panel.title))</h2>"#
        guard let result, let archive = try? ArchivedResult(bytes: result.arrow) else {
            return html + #"<p class="error">This result could not be computed.</p></section>"#
        }
        let columns = (0..<archive.columnCount).map { archive.column($0) }
        switch panel.kind {
        case .bars(let label, let value):
            html += bars(archive, label: label, value: value)
        case .table:
            html += "<table><thead><tr>" + columns.map { "<th>\(escape($0.name))</th>" }.joined() + "</tr></thead><tbody>"
            for row in 0..<min(archive.rowCount, 50) {
                html += "<tr>" + columns.map { "<td>\(escape(text($0, row)))</td>" }.joined() + "</tr>"
            }
            html += "</tbody></table>"
        case .figures:
            html += #"<div class="figures">"#
            for column in columns where archive.rowCount > 0 {
                html += #"<div class="figure"><span class="value">\#(escape(text(column, 0)))</span><span class="label">\#(escape(column.name))</span></div>"#
            }
            html += "</div>"
        }
        let age = Int(result.age.components.seconds)
        html += #"<footer><span class="served served-\#(result.servedBy.rawValue)">\#(result.servedBy.rawValue)</span>"#
            + #" · age <span class="age">\#(age)</span> s · computed in \#(AnalyticsServer.milliseconds(result.computeTime)) ms</footer></section>"#
        return html
    }

    /// Horizontal bars as SVG, scaled to the largest value.
    static func bars(_ archive: ArchivedResult, label: String, value: String) -> String {
        guard let labels = archive.column(named: label), let values = archive.column(named: value) else { return "" }
        let rows = min(archive.rowCount, 30)
        let numbers = (0..<rows).map { number(values, $0) ?? 0 }
        let top = max(numbers.max() ?? 1, 1e-9)
        let height = rows * 22 + 4
        var svg = #"<svg class="bars" viewBox="0 0 480 \#(height)" width="100%" role="img" aria-label="\#(escape(value)) by \#(escape(label))">"#
        for row in 0..<rows {
            let y = row * 22 + 2
            let width = max(1, Int(300 * numbers[row] / top))
            svg += #"<text x="0" y="\#(y + 15)" class="bar-label">\#(escape(String(text(labels, row).prefix(18))))</text>"#
            svg += #"<rect x="130" y="\#(y + 2)" width="\#(width)" height="16" class="bar"></rect>"#
            svg += #"<text x="\#(136 + width)" y="\#(y + 15)" class="bar-value">\#(escape(text(values, row)))</text>"#
        }
        return svg + "</svg>"
    }

    static func number(_ column: ArchivedColumn, _ row: Int) -> Double? {
        switch try? column.value(at: row) {
        case .int(let v)?: Double(v)
        case .uint(let v)?: Double(v)
        case .double(let v)?: v
        case .decimal(let d)?: Double(d.description)
        case .hugeint(let v)?: Double(v)
        default: nil
        }
    }

    static func text(_ column: ArchivedColumn, _ row: Int) -> String {
        switch try? column.value(at: row) {
        case nil, .null?: return ""
        case .string(let s)?: return s
        case .int(let v)?: return String(v)
        case .uint(let v)?: return String(v)
        case .double(let v)?: return v == v.rounded() && abs(v) < 1e15 ? String(Int64(v)) : String(format: "%.2f", v)
        case .decimal(let d)?: return d.description
        case .bool(let b)?: return b ? "true" : "false"
        case .date(let days)?:
            let date = Date(timeIntervalSince1970: Double(days) * 86_400)
            return date.formatted(.iso8601.year().month().day())
        case let other?: return "\(other)"
        }
    }

    /// HTML-escapes text for element content and attribute values.
    static func escape(_ text: String) -> String {
        var out = ""
        out.reserveCapacity(text.count)
        for character in text {
            switch character {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&quot;"
            case "'": out += "&#39;"
            case "\n", "\r", "\r\n": out += " "
            default: out.append(character)
            }
        }
        return out
    }
}

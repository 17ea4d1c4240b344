import Foundation
import HTTPTypes
import Hummingbird
import NIOCore

/// The console's pages: server-rendered HTML, one inline style block, no
/// script. Every value that comes from a message, the database or the
/// request goes through ``escape(_:)``: a message body or a failure reason
/// is whatever a sender put there.
enum HTML {
    static func escape(_ text: String) -> String {
        var out = ""
        out.reserveCapacity(text.utf8.count)
        for character in text {
            switch character {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&quot;"
            case "'": out += "&#39;"
            default: out.append(character)
            }
        }
        return out
    }

    /// A query-string value.
    static func query(_ text: String) -> String {
        text.addingPercentEncoding(withAllowedCharacters: .alphanumerics.union(CharacterSet(charactersIn: "-_.~"))) ?? ""
    }

    /// A table; cells are HTML already (escape what goes in).
    static func table(_ columns: [String], _ rows: [[String]], empty: String = "none") -> String {
        guard !rows.isEmpty else { return "<p class=\"muted\">\(escape(empty))</p>" }
        let head = columns.map { "<th>\(escape($0))</th>" }.joined()
        let body = rows.map { "<tr>" + $0.map { "<td>\($0)</td>" }.joined() + "</tr>" }.joined(separator: "\n")
        return "<table><thead><tr>\(head)</tr></thead><tbody>\n\(body)\n</tbody></table>"
    }

    /// Hidden inputs for a form.
    static func hidden(_ fields: [(String, String)]) -> String {
        fields.map { "<input type=\"hidden\" name=\"\(escape($0.0))\" value=\"\(escape($0.1))\">" }.joined()
    }

    /// A whole page with the navigation and who is signed in.
    static func page(_ title: String, signedInAs name: String?, readOnly: Bool, status: HTTPResponse.Status = .ok, _ content: String) -> Response {
        let who: String
        if readOnly {
            who = "<span class=\"muted\">read-only (no CONSOLE_TOKEN)</span>"
        } else if let name {
            who = "signed in as <b>\(escape(name))</b> <form class=\"inline\" method=\"post\" action=\"/sign-out\"><button>Sign out</button></form>"
        } else {
            who = "<a href=\"/sign-in\">Sign in</a> to replay or purge"
        }
        let html = """
            <!doctype html>
            <html lang="en"><head><meta charset="utf-8"><title>\(escape(title)) · order-console</title>
            <style>\(style)</style></head>
            <body><header><nav><b>order-console</b> <a href="/queues">Queues</a> <a href="/dead-letters">Dead letters</a> \
            <a href="/orders">Orders</a> <a href="/stock">Stock</a> <a href="/audit">Audit</a></nav><div class="who">\(who)</div></header>
            <main><h1>\(escape(title))</h1>
            \(content)
            </main></body></html>
            """
        return response(html, status: status)
    }

    static func response(_ html: String, status: HTTPResponse.Status = .ok, headers extra: HTTPFields = [:]) -> Response {
        var headers: HTTPFields = [
            .contentType: "text/html; charset=utf-8", .cacheControl: "no-store",
            // No script, no frame, forms only to the console itself.
            .contentSecurityPolicy: "default-src 'none'; style-src 'unsafe-inline'; img-src 'self'; form-action 'self'; frame-ancestors 'none'",
            .xContentTypeOptions: "nosniff", HTTPField.Name("Referrer-Policy")!: "no-referrer",
        ]
        headers.append(contentsOf: extra)
        return Response(status: status, headers: headers, body: .init(byteBuffer: ByteBuffer(string: html)))
    }

    static let style = """
        body{font:14px/1.4 system-ui,sans-serif;margin:0;color:#222}header{display:flex;justify-content:space-between;\
        align-items:center;background:#24324a;color:#fff;padding:.5em 1em}header a{color:#cfe0ff;margin-right:1em}\
        main{padding:0 1em 2em}table{border-collapse:collapse;margin:.5em 0}th,td{border:1px solid #ccc;padding:.25em .5em;\
        text-align:left;vertical-align:top}th{background:#eef}.muted{color:#777}.warn{color:#a40}.ok{color:#060}\
        pre{background:#f6f6f6;padding:.5em;overflow:auto;max-height:30em}form.inline{display:inline}\
        .notice{border:1px solid #bbb;background:#ffd;padding:.5em;margin:.5em 0}button{cursor:pointer}\
        .danger{background:#b22;color:#fff;border:0;padding:.3em .8em}.primary{background:#246;color:#fff;border:0;padding:.3em .8em}
        """
}

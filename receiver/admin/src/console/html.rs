//! HTML building blocks: escaping, the page layout, forms (each POST form with the
//! session's CSRF token), and URL-encoded form bodies.

use std::collections::HashMap;

/// Escapes text for HTML content and attribute values.
pub fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// Percent-encodes a query value.
pub fn enc(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

fn hex(b: u8) -> Option<u8> {
    (b as char).to_digit(16).map(|d| d as u8)
}

fn decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let escaped = (bytes[i] == b'%')
            .then(|| Some(hex(*bytes.get(i + 1)?)? * 16 + hex(*bytes.get(i + 2)?)?))
            .flatten();
        match (bytes[i], escaped) {
            (_, Some(b)) => {
                out.push(b);
                i += 3;
            }
            (b'+', None) => {
                out.push(b' ');
                i += 1;
            }
            (b, None) => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Parses an `application/x-www-form-urlencoded` body (the last value of a name wins).
pub fn parse_form(body: &[u8]) -> HashMap<String, String> {
    String::from_utf8_lossy(body)
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|pair| {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            (decode(k), decode(v))
        })
        .collect()
}

const STYLE: &str = "body{font:14px/1.4 system-ui,sans-serif;margin:0;color:#222}\
header{background:#12324a;color:#fff;padding:.6em 1em}header a{color:#fff;margin-right:1.2em}\
main{padding:1em;max-width:1100px}table{border-collapse:collapse;margin:.5em 0}\
td,th{border:1px solid #ccc;padding:.25em .5em;text-align:left;vertical-align:top}\
th{background:#f2f2f2}.msg{background:#e8f5e9;padding:.5em;border:1px solid #9c9}\
.err{background:#fdecea;border-color:#e99}form.inline{display:inline}\
.state-applied{color:#17692b}.state-dead-lettered{color:#b00020}.state-retrying{color:#a65e00}\
pre{white-space:pre-wrap;background:#f7f7f7;padding:.5em}";

/// The session's CSRF token, which every POST form carries back.
#[derive(Debug, Clone, Default)]
pub struct Csrf(pub String);

impl Csrf {
    /// The hidden form field.
    pub fn field(&self) -> String {
        format!(
            "<input type=\"hidden\" name=\"csrf\" value=\"{}\">",
            esc(&self.0)
        )
    }
}

/// A whole page: header with navigation (and, in a session, the log-out form), an
/// optional flash message, then `body`.
pub fn page(title: &str, msg: Option<&str>, body: &str, csrf: Option<&Csrf>) -> String {
    let flash = match msg {
        Some(m) if !m.is_empty() => {
            let class = if m.starts_with("error") {
                "msg err"
            } else {
                "msg"
            };
            format!("<p class=\"{class}\" id=\"flash\">{}</p>", esc(m))
        }
        _ => String::new(),
    };
    let logout = csrf.map_or_else(String::new, |c| {
        format!(
            "<form class=\"inline\" method=\"post\" action=\"/console/logout\">{}<button>Log out</button></form>",
            c.field()
        )
    });
    format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">\
         <title>{t} · splashsync</title><style>{STYLE}</style></head><body>\
         <header><strong>splashsync</strong> &nbsp; <a href=\"/console\">Overview</a>\
         <a href=\"/console/incidents\">Incidents</a><a href=\"/console/dead-letters\">Dead letters</a><a href=\"/console/users\">Users</a><a href=\"/console/workers\">Workers</a>\
         <a href=\"/console/reconcile\">Reconciliation</a>\
         {logout}</header><main><h1>{t}</h1>{flash}{body}</main></body></html>",
        t = esc(title)
    )
}

/// A one-button POST form.
pub fn button(action: &str, label: &str, id: &str, csrf: &Csrf) -> String {
    format!(
        "<form class=\"inline\" method=\"post\" action=\"{}\">{}<button id=\"{}\">{}</button></form>",
        esc(action),
        csrf.field(),
        esc(id),
        esc(label)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_is_escaped_and_forms_are_decoded() {
        assert_eq!(
            esc("<a href='x'>&\"</a>"),
            "&lt;a href=&#39;x&#39;&gt;&amp;&quot;&lt;/a&gt;"
        );
        let f = parse_form(b"note=left+the%20company&x=%E2%9C%93&bad=%zz");
        assert_eq!(f["note"], "left the company");
        assert_eq!(f["x"], "✓");
        assert_eq!(f["bad"], "%zz");
        assert_eq!(enc("a b@c"), "a%20b%40c");
    }
}

//! The page around the charts: one HTML document with its stylesheet inline, tables, verdict
//! badges and number formats shared by every report kind.
//!
//! Nothing here refers to anything outside the document (no script, font, image or link to a
//! URL), so a page opens offline from a CI artifact; a print stylesheet keeps it readable on
//! paper. Every string from a report goes through [`esc`].

use std::fmt::Write as _;

use crate::metrics::{Metrics, Tolerance};
use crate::verdict::Verdict;

/// The stylesheet of every page. Colours carry no meaning alone: every verdict is also a word,
/// and the charts tell series apart by dash pattern and marker as well as by colour.
const CSS: &str = r#"
:root { --ink: #1b1b1b; --muted: #555; --rule: #c8c8c8; --band: #f3f3f3; }
* { box-sizing: border-box; }
body { margin: 0; color: var(--ink); background: #fff;
  font: 15px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif; }
main { max-width: 1140px; margin: 0 auto; padding: 20px 28px 40px; }
header.top { border-bottom: 2px solid var(--ink); padding-bottom: 10px; margin-bottom: 8px; }
h1 { font-size: 1.55em; margin: 0 0 4px; }
h2 { font-size: 1.25em; margin: 28px 0 8px; padding-bottom: 3px; border-bottom: 1px solid var(--rule); }
h3 { font-size: 1.05em; margin: 20px 0 6px; }
p, ul { margin: 6px 0; }
.sub { color: var(--muted); margin: 0; overflow-wrap: anywhere; }
.note { color: var(--muted); font-size: 0.92em; }
.warn { border-left: 4px solid #8a5a00; background: #fff6e0; padding: 6px 10px; margin: 10px 0; }
pre { background: var(--band); border: 1px solid var(--rule); padding: 6px 10px; overflow-x: auto; }
code, .mono { font-family: ui-monospace, "SFMono-Regular", Menlo, Consolas, "Liberation Mono", monospace;
  font-size: 0.92em; }
.badge { display: inline-block; padding: 1px 9px; border-radius: 3px; font-weight: 700;
  letter-spacing: 0.04em; font-size: 0.9em; border: 1.5px solid; white-space: nowrap; }
.badge.pass { color: #0b5d1e; background: #e3f4e6; border-color: #0b5d1e; }
.badge.fail { color: #fff; background: #a3141b; border-color: #a3141b; }
.badge.error { color: #fff; background: #3a3a3a; border-color: #000; border-style: dashed; }
.badge.unsupported { color: #333; background: #e6e6e6; border-color: #777; }
.badge.expected { color: #5a3d00; background: #fff6e0; border-color: #8a5a00; border-style: dotted; }
h1 .badge { font-size: 0.6em; vertical-align: middle; margin-left: 8px; }
table { border-collapse: collapse; margin: 8px 0 14px; font-size: 0.92em; }
th, td { border: 1px solid var(--rule); padding: 3px 8px; text-align: left; vertical-align: top; }
td { overflow-wrap: break-word; }
th { background: var(--band); font-weight: 600; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
tr.bad td { background: #fbeaea; }
table.kv th { white-space: nowrap; }
.wide { overflow-x: auto; }
figure { margin: 10px 0 18px; }
figure svg { display: block; width: 100%; height: auto; max-width: 1080px; }
.pair { display: grid; grid-template-columns: minmax(0, 1fr) minmax(0, 1fr); gap: 16px; align-items: start; }
.pair figure { margin: 6px 0; }
figcaption { color: var(--muted); font-size: 0.88em; margin-top: 2px; }
nav.toc { font-size: 0.92em; margin: 8px 0; }
nav.toc a { color: inherit; margin-right: 12px; }
footer { margin-top: 36px; color: var(--muted); font-size: 0.85em; border-top: 1px solid var(--rule); padding-top: 6px; }
@media (max-width: 820px) { .pair { grid-template-columns: 1fr; } main { padding: 12px; } }
@media print {
  body { font-size: 10pt; }
  main { max-width: none; padding: 0; }
  nav.toc { display: none; }
  h2 { break-after: avoid; }
  figure, table, .pair { break-inside: avoid; }
  .wide { overflow: visible; }
  .badge.fail, .badge.error { color: #000; background: #fff; }
  tr.bad td { background: #fff; font-weight: 600; }
  a { color: inherit; text-decoration: none; }
}
"#;

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

/// A verdict as a badge: the word is always there, the colour only helps.
pub fn badge(v: Verdict) -> String {
    let name = v.name();
    format!(
        r#"<span class="badge {name}">{}</span>"#,
        name.to_uppercase()
    )
}

/// A badge for any outcome word (`unsupported` has its own style).
pub fn word_badge(class: &str, word: &str) -> String {
    format!(r#"<span class="badge {}">{}</span>"#, esc(class), esc(word))
}

/// `1.234e-5`, and `0` for zero; non-finite values by name.
pub fn sci(v: f64) -> String {
    if v == 0.0 {
        "0".to_owned()
    } else if v.is_nan() {
        "NaN".to_owned()
    } else if v.is_infinite() {
        if v > 0.0 { "inf" } else { "-inf" }.to_owned()
    } else {
        format!("{v:.3e}")
    }
}

/// A loss or probability with nine decimals, as the text reports print them.
pub fn fixed9(v: f64) -> String {
    if v.is_finite() {
        format!("{v:.9}")
    } else {
        sci(v)
    }
}

/// `12345678` -> `12,345,678`.
pub fn count(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// The tolerance rule in words.
pub fn tolerance(t: &Tolerance) -> String {
    esc(&t.to_string())
}

/// A table built row by row; cells are HTML (escape text with [`esc`]).
pub struct Table {
    html: String,
    numeric: Vec<bool>,
}

impl Table {
    /// Column headers; a header starting with `#` marks a right-aligned numeric column (the
    /// `#` is not shown).
    pub fn new(headers: &[&str]) -> Self {
        let numeric: Vec<bool> = headers.iter().map(|h| h.starts_with('#')).collect();
        let mut html = String::from("<div class=\"wide\"><table>\n<thead><tr>");
        for (h, &num) in headers.iter().zip(&numeric) {
            let text = h.trim_start_matches('#');
            if num {
                let _ = write!(html, "<th class=\"num\">{}</th>", esc(text));
            } else {
                let _ = write!(html, "<th>{}</th>", esc(text));
            }
        }
        html.push_str("</tr></thead>\n<tbody>\n");
        Self { html, numeric }
    }

    /// One row; `bad` highlights it (a failure), which the row's own words also say.
    pub fn row(&mut self, cells: &[String], bad: bool) -> &mut Self {
        self.html
            .push_str(if bad { "<tr class=\"bad\">" } else { "<tr>" });
        for (i, c) in cells.iter().enumerate() {
            if self.numeric.get(i).copied().unwrap_or(false) {
                let _ = write!(self.html, "<td class=\"num\">{c}</td>");
            } else {
                let _ = write!(self.html, "<td>{c}</td>");
            }
        }
        self.html.push_str("</tr>\n");
        self
    }

    pub fn finish(&mut self) -> String {
        let mut out = std::mem::take(&mut self.html);
        out.push_str("</tbody>\n</table></div>\n");
        out
    }
}

/// A two-column table of names and values (values are HTML).
pub fn key_values(rows: &[(&str, String)]) -> String {
    let mut html = String::from("<div class=\"wide\"><table class=\"kv\">\n<tbody>\n");
    for (k, v) in rows {
        let _ = writeln!(html, "<tr><th>{}</th><td>{v}</td></tr>", esc(k));
    }
    html.push_str("</tbody>\n</table></div>\n");
    html
}

/// The usual metric columns of one comparison, for a [`Table`] whose headers end with
/// [`METRIC_HEADERS`].
pub fn metric_cells(m: &Metrics) -> Vec<String> {
    vec![
        sci(m.max_abs_err),
        sci(m.max_rel_err),
        if m.max_ulp == u64::MAX {
            "max".to_owned()
        } else {
            count(m.max_ulp)
        },
        format!(
            "{} / {}",
            count(m.mismatches as u64),
            count(m.elements as u64)
        ),
    ]
}

pub const METRIC_HEADERS: [&str; 4] = ["#max abs", "#max rel", "#max ULP", "#mismatches"];

/// A figure around a chart: the SVG and a caption saying how to read it.
pub fn figure(svg: &str, caption: &str) -> String {
    if caption.is_empty() {
        format!("<figure>{svg}</figure>\n")
    } else {
        format!("<figure>{svg}<figcaption>{caption}</figcaption></figure>\n")
    }
}

/// Two figures side by side (one above the other on a narrow screen).
pub fn pair(left: &str, right: &str) -> String {
    format!("<div class=\"pair\">\n{left}{right}</div>\n")
}

/// The whole document.
pub struct Page {
    title: String,
    subtitle: Vec<String>,
    verdict: Option<Verdict>,
    toc: Vec<(String, String)>,
    body: String,
    footer: String,
}

impl Page {
    pub fn new(title: &str, verdict: Option<Verdict>) -> Self {
        Self {
            title: title.to_owned(),
            subtitle: Vec::new(),
            verdict,
            toc: Vec::new(),
            body: String::new(),
            footer: String::new(),
        }
    }

    /// A line under the title (HTML).
    pub fn subtitle(&mut self, html: String) -> &mut Self {
        self.subtitle.push(html);
        self
    }

    /// A section with a heading, listed in the page's table of contents.
    pub fn section(&mut self, heading: &str, html: &str) -> &mut Self {
        let id = format!("s{}", self.toc.len() + 1);
        self.section_at(&id, heading, html);
        self.toc.push((id, heading.to_owned()));
        self
    }

    /// A section with an anchor of its own (`#id`), left out of the table of contents (one of
    /// many cases, linked from a table instead).
    pub fn section_at(&mut self, id: &str, heading: &str, html: &str) -> &mut Self {
        let _ = write!(
            self.body,
            "<section id=\"{}\">\n<h2>{}</h2>\n{html}</section>\n",
            esc(id),
            esc(heading)
        );
        self
    }

    /// Who made it (HTML), at the foot of the page.
    pub fn footer(&mut self, html: String) -> &mut Self {
        self.footer = html;
        self
    }

    pub fn finish(&self) -> Vec<u8> {
        let mut out = String::with_capacity(self.body.len() + CSS.len() + 2048);
        let title = esc(&self.title);
        let verdict_word = self
            .verdict
            .map_or(String::new(), |v| format!(" — {}", v.name().to_uppercase()));
        let _ = write!(
            out,
            "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
             <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
             <title>{title}{verdict_word}</title>\n<style>{CSS}</style>\n</head>\n<body>\n<main>\n\
             <header class=\"top\">\n<h1>{title}{}</h1>\n",
            self.verdict
                .map_or(String::new(), |v| format!(" {}", badge(v)))
        );
        for line in &self.subtitle {
            let _ = writeln!(out, "<p class=\"sub\">{line}</p>");
        }
        out.push_str("</header>\n");
        if self.toc.len() > 2 {
            out.push_str("<nav class=\"toc\">");
            for (id, heading) in &self.toc {
                let _ = write!(out, "<a href=\"#{id}\">{}</a>", esc(heading));
            }
            out.push_str("</nav>\n");
        }
        out.push_str(&self.body);
        if !self.footer.is_empty() {
            let _ = writeln!(out, "<footer>{}</footer>", self.footer);
        }
        out.push_str("</main>\n</body>\n</html>\n");
        out.into_bytes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_is_escaped_and_numbers_read_well() {
        assert_eq!(
            esc("<a href=\"x\">&'"),
            "&lt;a href=&quot;x&quot;&gt;&amp;&#39;"
        );
        assert_eq!(count(1_234_567), "1,234,567");
        assert_eq!(count(999), "999");
        assert_eq!(sci(0.0), "0");
        assert_eq!(sci(1.5e-7), "1.500e-7");
        assert_eq!(sci(f64::INFINITY), "inf");
    }

    #[test]
    fn a_page_is_one_document_with_its_style_inline() {
        let mut p = Page::new("t <1>", Some(Verdict::Fail));
        p.section("a", "<p>x</p>");
        let html = String::from_utf8(p.finish()).unwrap();
        assert!(html.starts_with("<!DOCTYPE html>"));
        assert!(html.contains("<title>t &lt;1&gt; — FAIL</title>"));
        assert!(html.contains("<style>"));
        assert!(html.contains(">FAIL</span>"));
        assert!(!html.contains("http"));
    }
}

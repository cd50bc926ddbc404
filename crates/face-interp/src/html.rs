//! A self-contained HTML page builder and a Markdown summary builder.
//!
//! [`Page`] renders one complete HTML5 document with an inline stylesheet and
//! a table of contents. It references no external resources (no fonts, CDN,
//! scripts or images by URL), so the report opens correctly from disk.
//! Charts are embedded as inline SVG (see the `plot` module) with [`figure`].
//!
//! Helpers whose name does not say otherwise take plain text and escape it;
//! [`table_html`] and the `body_html` of [`Page::section`] take trusted HTML.

/// Inline stylesheet of every [`Page`].
const STYLE: &str = "\
:root { color-scheme: light; }
* { box-sizing: border-box; }
body { margin: 0 auto; max-width: 1100px; padding: 24px 28px 64px;
  font-family: system-ui, -apple-system, \"Segoe UI\", Roboto, \"Helvetica Neue\", Arial, sans-serif;
  font-size: 16px; line-height: 1.55; color: #1f2328; background: #ffffff; }
h1 { font-size: 1.9em; margin: 0.4em 0 0.6em; line-height: 1.25; }
h2 { font-size: 1.45em; margin: 2em 0 0.6em; padding-bottom: 0.2em; border-bottom: 1px solid #d8dee4; }
h3 { font-size: 1.15em; margin: 1.5em 0 0.5em; }
p, ul, ol { margin: 0.6em 0; }
a { color: #0969da; text-decoration: none; }
a:hover { text-decoration: underline; }
nav.toc { background: #f6f8fa; border: 1px solid #d8dee4; border-radius: 6px;
  padding: 10px 18px; margin: 1em 0 2em; display: inline-block; min-width: 280px; }
nav.toc h2 { font-size: 1em; margin: 0 0 0.3em; border: none; padding: 0; }
nav.toc ol { margin: 0; padding-left: 1.4em; }
table { border-collapse: collapse; margin: 1em 0; font-size: 0.92em; }
th, td { border: 1px solid #d0d7de; padding: 4px 10px; text-align: left; vertical-align: top; }
th { background: #f6f8fa; font-weight: 600; }
tr:nth-child(even) td { background: #fbfcfd; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
.table-wrap { overflow-x: auto; }
figure { margin: 1.5em 0; text-align: center; overflow-x: auto; }
figure svg { max-width: 100%; height: auto; }
figcaption { font-size: 0.9em; color: #57606a; margin: 0.4em auto 0; max-width: 800px; }
code, pre { font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, \"Liberation Mono\", monospace; font-size: 0.9em; }
pre { background: #f6f8fa; border: 1px solid #d8dee4; border-radius: 6px; padding: 10px 14px;
  overflow-x: auto; line-height: 1.4; white-space: pre; }
section { margin-bottom: 1em; }
";

/// Escapes `&`, `<`, `>`, `"` and `'` for HTML text and attribute values.
///
/// Control characters other than tab and newlines become U+FFFD.
pub fn escape(s: &str) -> String {
    crate::plot::escape(s)
}

/// Turns a section id into a safe HTML id: ASCII letters, digits, `-` and
/// `_` are kept, anything else becomes `-`; an empty id becomes `section`.
pub fn slug(id: &str) -> String {
    let s: String = id
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '-'
            }
        })
        .collect();
    if s.is_empty() {
        "section".to_string()
    } else {
        s
    }
}

/// One `<section>` of a [`Page`].
#[derive(Debug, Clone, PartialEq)]
struct Section {
    id: String,
    heading: String,
    body_html: String,
}

/// A complete HTML report: a title, an optional introduction, a table of
/// contents and a list of sections.
#[derive(Debug, Clone, PartialEq)]
pub struct Page {
    title: String,
    intro_html: String,
    sections: Vec<Section>,
}

impl Page {
    /// Starts an empty page with the given (plain text) title.
    pub fn new(title: &str) -> Self {
        Page {
            title: title.to_string(),
            intro_html: String::new(),
            sections: Vec::new(),
        }
    }

    /// Appends trusted HTML shown under the title, before the table of contents.
    pub fn intro(&mut self, body_html: String) {
        self.intro_html.push_str(&body_html);
    }

    /// Appends a section. `id` is the anchor used by the table of contents
    /// (passed through [`slug`]), `heading` is plain text and `body_html` is
    /// trusted HTML.
    pub fn section(&mut self, id: &str, heading: &str, body_html: String) {
        self.sections.push(Section {
            id: slug(id),
            heading: heading.to_string(),
            body_html,
        });
    }

    /// Renders the complete HTML5 document.
    pub fn render(&self) -> String {
        let title = escape(&self.title);
        let mut out = String::new();
        out.push_str("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n");
        out.push_str("<meta charset=\"utf-8\">\n");
        out.push_str("<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n");
        out.push_str(&format!("<title>{title}</title>\n"));
        out.push_str(&format!("<style>\n{STYLE}</style>\n"));
        out.push_str("</head>\n<body>\n");
        out.push_str(&format!("<h1>{title}</h1>\n"));
        out.push_str(&self.intro_html);
        if !self.sections.is_empty() {
            out.push_str("<nav class=\"toc\">\n<h2>Contents</h2>\n<ol>\n");
            for s in &self.sections {
                out.push_str(&format!(
                    "<li><a href=\"#{}\">{}</a></li>\n",
                    escape(&s.id),
                    escape(&s.heading)
                ));
            }
            out.push_str("</ol>\n</nav>\n");
        }
        for s in &self.sections {
            out.push_str(&format!(
                "<section id=\"{}\">\n<h2>{}</h2>\n{}\n</section>\n",
                escape(&s.id),
                escape(&s.heading),
                s.body_html
            ));
        }
        out.push_str("</body>\n</html>\n");
        out
    }
}

/// Whether a table cell looks like a number (right-aligned in tables).
fn is_numeric(cell: &str) -> bool {
    let t = cell.trim().trim_end_matches('%');
    t == "–" || (!t.is_empty() && t.parse::<f64>().is_ok())
}

/// Builds a table; `cell_html` turns a body cell into HTML. Numeric-looking
/// cells are right-aligned.
fn build_table(
    headers: &[&str],
    rows: &[Vec<String>],
    cell_html: impl Fn(&str) -> String,
) -> String {
    let columns = rows.iter().map(Vec::len).fold(headers.len(), usize::max);
    let mut out = String::from("<div class=\"table-wrap\"><table>\n");
    if !headers.is_empty() {
        out.push_str("<thead><tr>");
        for i in 0..columns {
            out.push_str(&format!(
                "<th>{}</th>",
                escape(headers.get(i).copied().unwrap_or(""))
            ));
        }
        out.push_str("</tr></thead>\n");
    }
    out.push_str("<tbody>\n");
    for row in rows {
        out.push_str("<tr>");
        for i in 0..columns {
            let cell = row.get(i).map(String::as_str).unwrap_or("");
            if is_numeric(cell) {
                out.push_str(&format!("<td class=\"num\">{}</td>", cell_html(cell)));
            } else {
                out.push_str(&format!("<td>{}</td>", cell_html(cell)));
            }
        }
        out.push_str("</tr>\n");
    }
    out.push_str("</tbody>\n</table></div>");
    out
}

/// A table whose header and body cells are plain text (escaped).
///
/// Short rows are padded with empty cells; numeric cells are right-aligned.
pub fn table(headers: &[&str], rows: &[Vec<String>]) -> String {
    build_table(headers, rows, escape)
}

/// A table whose body cells are trusted HTML (headers are still escaped).
pub fn table_html(headers: &[&str], rows: &[Vec<String>]) -> String {
    build_table(headers, rows, str::to_string)
}

/// A paragraph of plain text.
pub fn para(text: &str) -> String {
    format!("<p>{}</p>", escape(text))
}

/// A bulleted list of plain-text items.
pub fn list(items: &[String]) -> String {
    let mut out = String::from("<ul>\n");
    for item in items {
        out.push_str(&format!("<li>{}</li>\n", escape(item)));
    }
    out.push_str("</ul>");
    out
}

/// A centred figure holding trusted markup (usually an inline SVG chart) and
/// a plain-text caption (omitted when empty).
pub fn figure(svg: String, caption: &str) -> String {
    if caption.is_empty() {
        format!("<figure>\n{svg}\n</figure>")
    } else {
        format!(
            "<figure>\n{svg}\n<figcaption>{}</figcaption>\n</figure>",
            escape(caption)
        )
    }
}

/// A preformatted code block of plain text.
pub fn code(text: &str) -> String {
    format!("<pre><code>{}</code></pre>", escape(text))
}

/// One block of a [`Markdown`] document.
#[derive(Debug, Clone, PartialEq)]
enum Block {
    Text(String),
    Bullet(String),
}

/// Builder for a Markdown summary of the report.
///
/// Text is written as given (so it may contain Markdown markup), except in
/// table cells, where `|` is escaped and line breaks become spaces.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Markdown {
    blocks: Vec<Block>,
}

impl Markdown {
    /// Starts an empty document.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a heading; `level` is clamped to 1..=6.
    pub fn heading(&mut self, level: usize, text: &str) {
        let hashes = "#".repeat(level.clamp(1, 6));
        self.blocks
            .push(Block::Text(format!("{hashes} {}", one_line(text))));
    }

    /// Adds a paragraph.
    pub fn para(&mut self, text: &str) {
        self.blocks.push(Block::Text(text.trim().to_string()));
    }

    /// Adds a bullet; consecutive bullets form one list.
    pub fn bullet(&mut self, text: &str) {
        self.blocks
            .push(Block::Bullet(format!("- {}", one_line(text))));
    }

    /// Adds a fenced code block.
    pub fn code(&mut self, text: &str) {
        let fence = if text.contains("```") { "~~~~" } else { "```" };
        self.blocks.push(Block::Text(format!(
            "{fence}\n{}\n{fence}",
            text.trim_end()
        )));
    }

    /// Adds a table. Cells (and headers) have `|` escaped as `\|`; short rows
    /// are padded with empty cells.
    pub fn table(&mut self, headers: &[&str], rows: &[Vec<String>]) {
        let columns = rows.iter().map(Vec::len).fold(headers.len(), usize::max);
        if columns == 0 {
            return;
        }
        let line = |cells: Vec<String>| format!("| {} |", cells.join(" | "));
        let header: Vec<String> = (0..columns)
            .map(|i| table_cell(headers.get(i).copied().unwrap_or("")))
            .collect();
        let mut lines = vec![line(header), line(vec!["---".to_string(); columns])];
        for row in rows {
            let cells = (0..columns)
                .map(|i| table_cell(row.get(i).map(String::as_str).unwrap_or("")))
                .collect();
            lines.push(line(cells));
        }
        self.blocks.push(Block::Text(lines.join("\n")));
    }

    /// Renders the document: blocks separated by blank lines, consecutive
    /// bullets kept together, ending with a newline.
    pub fn render(&self) -> String {
        let mut out = String::new();
        let mut previous_bullet = false;
        for block in &self.blocks {
            let (text, bullet) = match block {
                Block::Text(t) => (t, false),
                Block::Bullet(t) => (t, true),
            };
            if !out.is_empty() {
                out.push_str(if bullet && previous_bullet {
                    "\n"
                } else {
                    "\n\n"
                });
            }
            out.push_str(text);
            previous_bullet = bullet;
        }
        if !out.is_empty() {
            out.push('\n');
        }
        out
    }
}

/// Collapses line breaks into spaces.
fn one_line(text: &str) -> String {
    text.split(['\n', '\r'])
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
}

/// Escapes a Markdown table cell: `\` and `|` are backslash-escaped.
fn table_cell(text: &str) -> String {
    one_line(text).replace('\\', "\\\\").replace('|', "\\|")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(text: &str) -> String {
        text.to_string()
    }

    fn sample_page() -> Page {
        let mut page = Page::new("Face <detector> & \"friends\"");
        page.intro(para("Generated report."));
        let svg = s(
            "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"10\" height=\"10\" viewBox=\"0 0 10 10\"><rect width=\"10\" height=\"10\"/></svg>",
        );
        page.section("overview", "Overview", para("Accuracy is high."));
        page.section(
            "attention",
            "Attention maps",
            figure(svg.clone(), "Layer 0 <head 1>"),
        );
        page.section(
            "embeddings",
            "Embeddings & PCA",
            table(
                &["char", "score"],
                &[vec![s("<"), s("0.5")], vec![s("ツ"), s("-1.25")]],
            ),
        );
        page.section("more", "More", figure(svg, ""));
        page
    }

    #[test]
    fn escape_handles_special_characters() {
        assert_eq!(escape("<&>\"'"), "&lt;&amp;&gt;&quot;&#39;");
        assert_eq!(escape("(^_^)ツ"), "(^_^)ツ");
    }

    #[test]
    fn page_is_a_complete_self_contained_document() {
        let html = sample_page().render();
        assert!(html.starts_with("<!DOCTYPE html>"));
        assert!(html.contains("<meta charset=\"utf-8\">"));
        assert!(html.contains("<style>") && html.contains("max-width: 1100px"));
        assert!(html.trim_end().ends_with("</html>"));
        assert!(html.contains("<title>Face &lt;detector&gt; &amp; &quot;friends&quot;</title>"));
        for forbidden in ["<script", "<link", "@import", "url(", "<img"] {
            assert!(!html.contains(forbidden), "page contains {forbidden}");
        }
        let without_ns = html.replace("xmlns=\"http://www.w3.org/2000/svg\"", "");
        assert!(!without_ns.contains("http://"), "external http reference");
        assert!(!without_ns.contains("https://"), "external https reference");
        assert_eq!(
            html.matches("<section").count(),
            html.matches("</section>").count()
        );
    }

    #[test]
    fn table_of_contents_links_every_section() {
        let html = sample_page().render();
        let toc_end = html.find("</nav>").unwrap_or(0);
        assert!(toc_end > 0, "no table of contents");
        let toc = &html[..toc_end];
        for id in ["overview", "attention", "embeddings", "more"] {
            assert!(toc.contains(&format!("href=\"#{id}\"")), "TOC misses {id}");
            assert!(
                html.contains(&format!("<section id=\"{id}\">")),
                "section {id} missing"
            );
        }
        assert!(toc.contains(">Embeddings &amp; PCA</a>"));
        // Ids are made safe for attributes and fragment links.
        assert_eq!(slug("a b\"<c>"), "a-b--c-");
        assert_eq!(slug(""), "section");
    }

    #[test]
    fn helpers_escape_text_but_table_html_does_not() {
        let t = table(&["<h>"], &[vec![s("a<b>&c")], vec![]]);
        assert!(t.contains("<th>&lt;h&gt;</th>"));
        assert!(t.contains("<td>a&lt;b&gt;&amp;c</td>"));
        assert!(t.contains("<td class=\"num\"></td>") || t.contains("<td></td>"));
        let t = table_html(&["x"], &[vec![s("<b>bold</b>")]]);
        assert!(t.contains("<td><b>bold</b></td>"));
        let t = table(&["n"], &[vec![s("1.5")], vec![s("–")]]);
        assert_eq!(t.matches("class=\"num\"").count(), 2);
        assert_eq!(para("a < b"), "<p>a &lt; b</p>");
        assert_eq!(list(&[s("x&y")]), "<ul>\n<li>x&amp;y</li>\n</ul>");
        assert_eq!(code("if a<b {}"), "<pre><code>if a&lt;b {}</code></pre>");
        let f = figure(s("<svg></svg>"), "cap <i>");
        assert!(f.contains("<svg></svg>") && f.contains("<figcaption>cap &lt;i&gt;</figcaption>"));
        assert!(!figure(s("<svg></svg>"), "").contains("figcaption"));
    }

    #[test]
    fn markdown_escapes_pipes_in_tables() {
        let mut md = Markdown::new();
        md.heading(1, "Report");
        md.para("Some text.");
        md.bullet("one");
        md.bullet("two");
        md.table(
            &["input", "p(face)"],
            &[
                vec![s("(╯°□°)╯︵ ┻━┻"), s("0.99")],
                vec![s("a|b"), s("0.1")],
                vec![s("¯\\_(ツ)_/¯")],
            ],
        );
        md.heading(9, "Deep");
        let out = md.render();
        assert!(out.contains("| a\\|b | 0.1 |"), "pipe not escaped:\n{out}");
        assert!(
            out.contains("| ¯\\\\_(ツ)_/¯ |  |"),
            "backslash or padding wrong:\n{out}"
        );
        assert!(out.contains("| input | p(face) |\n| --- | --- |"));
        assert!(out.starts_with("# Report\n\nSome text.\n\n- one\n- two\n\n| input"));
        assert!(out.contains("\n###### Deep\n"));
        // Every table line has the same number of unescaped separators.
        for line in out.lines().filter(|l| l.starts_with('|')) {
            let unescaped = line.replace("\\\\", "").replace("\\|", "");
            assert_eq!(unescaped.matches('|').count(), 3, "bad row: {line}");
        }
    }
}

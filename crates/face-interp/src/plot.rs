//! Inline SVG charts for the interpretability report.
//!
//! Every chart function returns a complete, self-contained `<svg>...</svg>`
//! element (with `xmlns`, `viewBox`, `width`/`height` and a sans-serif font)
//! that can be pasted straight into an HTML page opened from disk: nothing is
//! fetched from the network and no element ids are used, so any number of
//! charts can share one page.
//!
//! Conventions shared by all charts:
//!
//! * All text (titles, axis labels, legend entries, category and cell labels)
//!   goes through [`escape`].
//! * Non-finite values (NaN, ±infinity) are never printed as `NaN`/`inf`:
//!   line charts and scatter plots skip such points (a line is broken at the
//!   gap), bar charts draw a grey `–` marker in place of the bar, and heatmaps
//!   draw a grey cell. Axis ranges are computed from finite values only.
//! * Hover-able marks (heatmap cells, bars, points) carry a `<title>` child with
//!   the exact value (4 significant digits), which browsers show as a tooltip.
//! * An empty title or axis label means "none".
//! * Inputs with nothing to draw produce a small SVG with a "no data" note.

/// SVG namespace written on every root element.
const SVG_NS: &str = "http://www.w3.org/2000/svg";

/// Categorical colours (Tableau 10) used for series, groups and legends.
const PALETTE: [&str; 10] = [
    "#4e79a7", "#f28e2b", "#e15759", "#76b7b2", "#59a14f", "#edc948", "#b07aa1", "#ff9da7",
    "#9c755f", "#bab0ac",
];

/// Fill used for heatmap cells and markers whose value is not finite.
const MISSING_FILL: &str = "#bdbdbd";
/// Bar colour for positive values in [`hbar_chart`].
const POSITIVE_FILL: &str = "#d6604d";
/// Bar colour for negative values in [`hbar_chart`].
const NEGATIVE_FILL: &str = "#4393c3";
/// Longest label (in characters) drawn before truncating with `…`.
const MAX_LABEL_CHARS: usize = 28;

/// One line of a [`line_chart`]: a name for the legend and `(x, y)` points.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Series {
    /// Legend entry (may be empty).
    pub name: String,
    /// Points in drawing order; non-finite points are skipped and break the line.
    pub points: Vec<(f64, f64)>,
}

/// One group of bars in a [`bar_chart`]: one value per category.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Series2 {
    /// Legend entry (may be empty).
    pub name: String,
    /// One value per category; missing or non-finite values show a grey `–`.
    pub values: Vec<f64>,
}

/// One point of a [`scatter`] plot.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ScatterPoint {
    /// Horizontal coordinate.
    pub x: f64,
    /// Vertical coordinate.
    pub y: f64,
    /// Text drawn next to the point (e.g. the character it stands for).
    pub label: String,
    /// Colour group: an index into the `group_names` passed to [`scatter`].
    pub group: usize,
}

/// How a [`heatmap`] maps values to colours.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ColorScale {
    /// White (minimum) to dark blue (maximum).
    Sequential,
    /// Symmetric around 0: blue (negative), white (0), red (positive).
    Diverging,
}

/// Optional extras for [`heatmap_with`].
#[derive(Debug, Clone, PartialEq, Default)]
pub struct HeatmapOptions {
    /// Label under the grid, describing the columns (empty: none).
    pub x_label: String,
    /// Label left of the grid, describing the rows (empty: none).
    pub y_label: String,
    /// Print each value inside its cell when cells are large enough.
    pub show_values: bool,
    /// Fixed colour range `(min, max)` instead of the data range. For
    /// [`ColorScale::Diverging`] the range becomes `±max(|min|, |max|)`.
    pub range: Option<(f64, f64)>,
}

/// Escapes `&`, `<`, `>`, `"` and `'` for XML/HTML text and attribute values.
///
/// Control characters that XML 1.0 forbids are replaced by U+FFFD.
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for ch in s.chars() {
        match ch {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            '\t' | '\n' | '\r' => out.push(ch),
            c if (c as u32) < 0x20 || c == '\u{7f}' => out.push('\u{fffd}'),
            c => out.push(c),
        }
    }
    out
}

/// Formats a number compactly with 3 significant digits.
///
/// Uses scientific notation (`1.23e-4`, `4.5e7`) below 0.001 and from one
/// million up, drops trailing zeros, prints numbers from 1000 up to a million
/// as whole numbers (`1235`), and returns `–` for non-finite input.
pub fn fmt_num(x: f64) -> String {
    fmt_sig(x, 3)
}

/// Like [`fmt_num`] but with 4 significant digits; used in hover titles.
pub fn fmt_precise(x: f64) -> String {
    fmt_sig(x, 4)
}

/// Formats `x` with `sig` (at least 1) significant digits; see [`fmt_num`].
fn fmt_sig(x: f64, sig: usize) -> String {
    if !x.is_finite() {
        return "–".to_string();
    }
    if x == 0.0 {
        return "0".to_string();
    }
    let sig = sig.max(1);
    let a = x.abs();
    if !(1e-3..1e6).contains(&a) {
        let s = format!("{:.*e}", sig - 1, x);
        return match s.split_once('e') {
            Some((mantissa, exp)) => format!("{}e{}", trim_zeros(mantissa), exp),
            None => s,
        };
    }
    let magnitude = a.log10().floor() as i64;
    let decimals = (sig as i64 - 1 - magnitude).max(0) as usize;
    no_negative_zero(trim_zeros(&format!("{x:.decimals$}")))
}

/// Removes trailing zeros (and a then-trailing `.`) from a decimal string.
fn trim_zeros(s: &str) -> String {
    if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        s.to_string()
    }
}

/// Turns `-0`, `-0.0`, ... into the same string without the sign.
fn no_negative_zero(s: String) -> String {
    match s.strip_prefix('-') {
        Some(rest) if rest.chars().all(|c| c == '0' || c == '.') => rest.to_string(),
        _ => s,
    }
}

/// Formats an SVG coordinate rounded to 2 decimals (non-finite becomes `0`).
fn c(v: f64) -> String {
    if !v.is_finite() {
        return "0".to_string();
    }
    no_negative_zero(trim_zeros(&format!("{v:.2}")))
}

/// Colour number `i` of the categorical palette (wraps around).
pub fn series_color(i: usize) -> &'static str {
    PALETTE[i % PALETTE.len()]
}

/// Rounds a positive step up to the nearest 1, 2 or 5 × 10^k.
///
/// Returns 1 for non-positive or non-finite input.
pub fn nice_step(raw: f64) -> f64 {
    if !raw.is_finite() || raw <= 0.0 {
        return 1.0;
    }
    let magnitude = 10f64.powf(raw.log10().floor());
    let norm = raw / magnitude;
    let factor = if norm <= 1.0 + 1e-9 {
        1.0
    } else if norm <= 2.0 + 1e-9 {
        2.0
    } else if norm <= 5.0 + 1e-9 {
        5.0
    } else {
        10.0
    };
    factor * magnitude
}

/// Evenly spaced "nice" tick values (step 1, 2 or 5 × 10^k) covering `[lo, hi]`.
///
/// The first tick is `<= lo` and the last `>= hi`; about `target` intervals
/// are produced. A zero-width range is widened; non-finite bounds give `[0, 1]`.
pub fn nice_ticks(lo: f64, hi: f64, target: usize) -> Vec<f64> {
    if !lo.is_finite() || !hi.is_finite() {
        return vec![0.0, 1.0];
    }
    let (mut lo, mut hi) = if lo <= hi { (lo, hi) } else { (hi, lo) };
    if hi - lo <= f64::EPSILON * lo.abs().max(hi.abs()) {
        let pad = if lo == 0.0 { 1.0 } else { lo.abs() * 0.1 };
        lo -= pad;
        hi += pad;
    }
    let step = nice_step((hi - lo) / target.max(1) as f64);
    // Tick `i` is `i * step`, computed as `i / (1 / step)` for steps below 1
    // so that e.g. 0.3 comes out as the double closest to 0.3.
    let tick = |i: i64| {
        if step < 1.0 {
            i as f64 / (1.0 / step).round()
        } else {
            i as f64 * step
        }
    };
    let mut first = (lo / step + 1e-9).floor() as i64;
    let mut last = (hi / step - 1e-9).ceil() as i64;
    if tick(first) > lo {
        first -= 1;
    }
    if tick(last) < hi {
        last += 1;
    }
    (first..=last).map(tick).collect()
}

/// Tick label strings, with as many decimals as the tick step needs.
fn tick_labels(ticks: &[f64]) -> Vec<String> {
    let step = match ticks {
        [a, b, ..] => (b - a).abs(),
        _ => 1.0,
    };
    let max_abs = ticks.iter().fold(0.0f64, |m, t| m.max(t.abs()));
    if step.is_finite() && step >= 1e-4 && max_abs < 1e6 {
        let decimals = (-step.log10().floor()).max(0.0) as usize;
        ticks
            .iter()
            .map(|t| no_negative_zero(format!("{t:.decimals$}")))
            .collect()
    } else {
        ticks.iter().map(|t| fmt_num(*t)).collect()
    }
}

/// Shortens a label to [`MAX_LABEL_CHARS`] characters, ending with `…`.
fn truncate(s: &str) -> String {
    if s.chars().count() <= MAX_LABEL_CHARS {
        s.to_string()
    } else {
        let mut t: String = s.chars().take(MAX_LABEL_CHARS - 1).collect();
        t.push('…');
        t
    }
}

/// Rough rendered width of `text` at `font_size` (sans-serif average).
fn text_width(text: &str, font_size: f64) -> f64 {
    text.chars().count() as f64 * font_size * 0.62
}

/// Minimum and maximum of the finite values, or `None` if there are none.
fn finite_range(values: impl IntoIterator<Item = f64>) -> Option<(f64, f64)> {
    values
        .into_iter()
        .filter(|v| v.is_finite())
        .fold(None, |acc, v| match acc {
            None => Some((v, v)),
            Some((lo, hi)) => Some((lo.min(v), hi.max(v))),
        })
}

/// Linear map from a data domain to pixel coordinates.
#[derive(Debug, Clone, Copy)]
struct Linear {
    d0: f64,
    d1: f64,
    r0: f64,
    r1: f64,
}

impl Linear {
    fn map(&self, v: f64) -> f64 {
        let span = self.d1 - self.d0;
        if span == 0.0 || !span.is_finite() {
            return (self.r0 + self.r1) / 2.0;
        }
        self.r0 + (v - self.d0) / span * (self.r1 - self.r0)
    }
}

/// The plotting area inside a chart, in pixels.
#[derive(Debug, Clone, Copy)]
struct Frame {
    left: f64,
    top: f64,
    width: f64,
    height: f64,
}

impl Frame {
    fn right(&self) -> f64 {
        self.left + self.width
    }
    fn bottom(&self) -> f64 {
        self.top + self.height
    }
}

/// Which side a value axis is drawn on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Side {
    Bottom,
    Left,
}

/// Opens the root `<svg>` element and paints a white background.
fn svg_open(width: f64, height: f64, title: &str) -> String {
    let (w, h) = (c(width), c(height));
    format!(
        "<svg xmlns=\"{SVG_NS}\" width=\"{w}\" height=\"{h}\" viewBox=\"0 0 {w} {h}\" \
         font-family=\"sans-serif\" font-size=\"12\" role=\"img\" aria-label=\"{}\">\
         <rect width=\"{w}\" height=\"{h}\" fill=\"#ffffff\"/>",
        escape(title)
    )
}

/// Top margin needed for an (optional) title.
fn title_space(title: &str) -> f64 {
    if title.is_empty() { 14.0 } else { 40.0 }
}

/// Draws the chart title centred at the top (nothing if empty).
fn push_title(out: &mut String, width: f64, title: &str) {
    if !title.is_empty() {
        out.push_str(&format!(
            "<text class=\"title\" x=\"{}\" y=\"24\" text-anchor=\"middle\" font-size=\"15\" \
             font-weight=\"bold\">{}</text>",
            c(width / 2.0),
            escape(title)
        ));
    }
}

/// A small placeholder chart saying there is nothing to draw.
fn no_data(title: &str) -> String {
    let width = (text_width(title, 15.0) + 40.0).max(360.0);
    let height = title_space(title) + 60.0;
    let mut out = svg_open(width, height, title);
    push_title(&mut out, width, title);
    out.push_str(&format!(
        "<text class=\"no-data\" x=\"{}\" y=\"{}\" text-anchor=\"middle\" fill=\"#777777\" \
         font-style=\"italic\">no data</text></svg>",
        c(width / 2.0),
        c(height - 28.0)
    ));
    out
}

/// Draws one value axis: grid lines, ticks, tick labels and the axis label.
fn push_axis(
    out: &mut String,
    frame: Frame,
    side: Side,
    ticks: &[f64],
    scale: Linear,
    label: &str,
) {
    out.push_str("<g class=\"axis\" font-size=\"11\" fill=\"#444444\">");
    for (t, text) in ticks.iter().zip(tick_labels(ticks)) {
        let p = c(scale.map(*t));
        match side {
            Side::Left => out.push_str(&format!(
                "<line x1=\"{}\" y1=\"{p}\" x2=\"{}\" y2=\"{p}\" stroke=\"#e5e5e5\"/>\
                 <text x=\"{}\" y=\"{p}\" dy=\"0.32em\" text-anchor=\"end\">{}</text>",
                c(frame.left),
                c(frame.right()),
                c(frame.left - 6.0),
                escape(&text)
            )),
            Side::Bottom => out.push_str(&format!(
                "<line x1=\"{p}\" y1=\"{}\" x2=\"{p}\" y2=\"{}\" stroke=\"#e5e5e5\"/>\
                 <text x=\"{p}\" y=\"{}\" text-anchor=\"middle\">{}</text>",
                c(frame.top),
                c(frame.bottom()),
                c(frame.bottom() + 16.0),
                escape(&text)
            )),
        }
    }
    match side {
        Side::Left => {
            out.push_str(&format!(
                "<line x1=\"{x}\" y1=\"{}\" x2=\"{x}\" y2=\"{}\" stroke=\"#888888\"/>",
                c(frame.top),
                c(frame.bottom()),
                x = c(frame.left)
            ));
            if !label.is_empty() {
                let (x, y) = (c(16.0), c(frame.top + frame.height / 2.0));
                out.push_str(&format!(
                    "<text class=\"axis-label\" x=\"{x}\" y=\"{y}\" transform=\"rotate(-90 {x} {y})\" \
                     text-anchor=\"middle\" font-size=\"12\" fill=\"#222222\">{}</text>",
                    escape(label)
                ));
            }
        }
        Side::Bottom => {
            out.push_str(&format!(
                "<line x1=\"{}\" y1=\"{y}\" x2=\"{}\" y2=\"{y}\" stroke=\"#888888\"/>",
                c(frame.left),
                c(frame.right()),
                y = c(frame.bottom())
            ));
            if !label.is_empty() {
                out.push_str(&format!(
                    "<text class=\"axis-label\" x=\"{}\" y=\"{}\" text-anchor=\"middle\" \
                     font-size=\"12\" fill=\"#222222\">{}</text>",
                    c(frame.left + frame.width / 2.0),
                    c(frame.bottom() + 36.0),
                    escape(label)
                ));
            }
        }
    }
    out.push_str("</g>");
}

/// How a legend entry's swatch is drawn.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Swatch {
    Line,
    Box,
    Dot,
}

/// Draws a vertical legend with its top-left corner at `(x, y)`.
fn push_legend(out: &mut String, x: f64, y: f64, entries: &[(String, &str)], swatch: Swatch) {
    out.push_str("<g class=\"legend\" font-size=\"11\">");
    for (i, (name, colour)) in entries.iter().enumerate() {
        let row = y + i as f64 * 18.0;
        match swatch {
            Swatch::Line => out.push_str(&format!(
                "<line x1=\"{}\" y1=\"{r}\" x2=\"{}\" y2=\"{r}\" stroke=\"{colour}\" stroke-width=\"3\"/>",
                c(x),
                c(x + 14.0),
                r = c(row)
            )),
            Swatch::Box => out.push_str(&format!(
                "<rect x=\"{}\" y=\"{}\" width=\"12\" height=\"12\" fill=\"{colour}\"/>",
                c(x),
                c(row - 6.0)
            )),
            Swatch::Dot => out.push_str(&format!(
                "<circle cx=\"{}\" cy=\"{}\" r=\"4\" fill=\"{colour}\"/>",
                c(x + 6.0),
                c(row)
            )),
        }
        out.push_str(&format!(
            "<text x=\"{}\" y=\"{}\" dy=\"0.32em\">{}</text>",
            c(x + 20.0),
            c(row),
            escape(&truncate(name))
        ));
    }
    out.push_str("</g>");
}

/// Axis ticks and domain for data in `[lo, hi]`.
fn data_axis(lo: f64, hi: f64, target: usize) -> (Vec<f64>, (f64, f64)) {
    let ticks = nice_ticks(lo, hi, target);
    let first = ticks.first().copied().unwrap_or(lo);
    let last = ticks.last().copied().unwrap_or(hi);
    (ticks, (first, last))
}

/// Line chart of several series with distinct colours and a legend.
///
/// `y_range` fixes the y axis (lines are clipped to it); otherwise the axes
/// span the finite data with nice tick values. Non-finite points are skipped
/// and break their line. Points get hover titles when a series has at most 200
/// points. With no finite point at all the chart says "no data".
pub fn line_chart(
    title: &str,
    x_label: &str,
    y_label: &str,
    series: &[Series],
    y_range: Option<(f64, f64)>,
) -> String {
    let finite = |&(x, y): &(f64, f64)| x.is_finite() && y.is_finite();
    let points = || {
        series
            .iter()
            .flat_map(|s| s.points.iter().copied().filter(finite))
    };
    let (Some((x_lo, x_hi)), Some((y_lo, y_hi))) = (
        finite_range(points().map(|p| p.0)),
        finite_range(points().map(|p| p.1)),
    ) else {
        return no_data(title);
    };

    let (x_ticks, x_domain) = data_axis(x_lo, x_hi, 8);
    let (y_ticks, y_domain) = match y_range {
        Some((lo, hi)) if lo.is_finite() && hi.is_finite() && lo < hi => {
            let span = hi - lo;
            let ticks = nice_ticks(lo, hi, 6)
                .into_iter()
                .filter(|t| *t >= lo - span * 1e-9 && *t <= hi + span * 1e-9)
                .collect();
            (ticks, (lo, hi))
        }
        _ => data_axis(y_lo, y_hi, 6),
    };

    let show_legend = series.len() > 1 || series.iter().any(|s| !s.name.is_empty());
    let legend_width = if show_legend { 170.0 } else { 20.0 };
    let frame = Frame {
        left: 70.0,
        top: title_space(title),
        width: 560.0,
        height: 300.0,
    };
    let width = frame.right() + legend_width;
    let height = frame.bottom() + 52.0;
    let xs = Linear {
        d0: x_domain.0,
        d1: x_domain.1,
        r0: frame.left,
        r1: frame.right(),
    };
    let ys = Linear {
        d0: y_domain.0,
        d1: y_domain.1,
        r0: frame.bottom(),
        r1: frame.top,
    };

    let mut out = svg_open(width, height, title);
    push_title(&mut out, width, title);
    push_axis(&mut out, frame, Side::Left, &y_ticks, ys, y_label);
    push_axis(&mut out, frame, Side::Bottom, &x_ticks, xs, x_label);

    // A nested <svg> clips the marks to the plot area (plus a small margin).
    let pad = 5.0;
    let (cx, cy, cw, ch) = (
        c(frame.left - pad),
        c(frame.top - pad),
        c(frame.width + 2.0 * pad),
        c(frame.height + 2.0 * pad),
    );
    out.push_str(&format!(
        "<svg x=\"{cx}\" y=\"{cy}\" width=\"{cw}\" height=\"{ch}\" viewBox=\"{cx} {cy} {cw} {ch}\" overflow=\"hidden\">"
    ));
    for (i, s) in series.iter().enumerate() {
        let colour = series_color(i);
        let name = escape(&s.name);
        out.push_str(&format!(
            "<g class=\"series\" stroke=\"{colour}\" fill=\"{colour}\">"
        ));
        // Split the line at non-finite points.
        let mut segments: Vec<Vec<(f64, f64)>> = vec![Vec::new()];
        for p in &s.points {
            if finite(p) {
                if let Some(seg) = segments.last_mut() {
                    seg.push(*p);
                }
            } else if segments.last().is_some_and(|seg| !seg.is_empty()) {
                segments.push(Vec::new());
            }
        }
        for seg in segments.iter().filter(|seg| seg.len() > 1) {
            let coords: Vec<String> = seg
                .iter()
                .map(|&(x, y)| format!("{},{}", c(xs.map(x)), c(ys.map(y))))
                .collect();
            out.push_str(&format!(
                "<polyline points=\"{}\" fill=\"none\" stroke-width=\"2\" stroke-linejoin=\"round\"><title>{name}</title></polyline>",
                coords.join(" ")
            ));
        }
        if s.points.len() <= 200 {
            for &(x, y) in s.points.iter().filter(|p| finite(p)) {
                out.push_str(&format!(
                    "<circle class=\"point\" cx=\"{}\" cy=\"{}\" r=\"2.5\" stroke=\"none\"><title>{name} ({}, {})</title></circle>",
                    c(xs.map(x)),
                    c(ys.map(y)),
                    fmt_precise(x),
                    fmt_precise(y)
                ));
            }
        }
        out.push_str("</g>");
    }
    out.push_str("</svg>");

    if show_legend {
        let entries: Vec<(String, &str)> = series
            .iter()
            .enumerate()
            .map(|(i, s)| (s.name.clone(), series_color(i)))
            .collect();
        push_legend(
            &mut out,
            frame.right() + 16.0,
            frame.top + 8.0,
            &entries,
            Swatch::Line,
        );
    }
    out.push_str("</svg>");
    out
}

/// Grouped vertical bar chart: one bar per group within each category.
///
/// The y axis always includes 0 and extends below it when values are
/// negative. Long category labels are rotated. Missing or non-finite values
/// are drawn as a grey `–` at the baseline. With no categories, no groups or
/// no finite value the chart says "no data".
pub fn bar_chart(title: &str, y_label: &str, categories: &[String], groups: &[Series2]) -> String {
    let value = |g: usize, cat: usize| -> f64 {
        groups
            .get(g)
            .and_then(|s| s.values.get(cat))
            .copied()
            .unwrap_or(f64::NAN)
    };
    let n_cat = categories.len();
    let n_groups = groups.len();
    let all = (0..n_groups).flat_map(|g| (0..n_cat).map(move |cat| (g, cat)));
    let Some((lo, hi)) = finite_range(all.map(|(g, cat)| value(g, cat))) else {
        return no_data(title);
    };

    let (y_ticks, y_domain) = data_axis(lo.min(0.0), hi.max(0.0), 6);
    let bar_width = if n_groups == 1 { 28.0 } else { 14.0 };
    let cat_width = (n_groups as f64 * bar_width + 14.0)
        .max(560.0 / n_cat as f64)
        .max(24.0);
    let labels: Vec<String> = categories.iter().map(|s| truncate(s)).collect();
    let longest = labels
        .iter()
        .map(|l| text_width(l, 11.0))
        .fold(0.0, f64::max);
    let rotate = longest > cat_width - 4.0;
    let label_space = if rotate { longest * 0.8 + 26.0 } else { 30.0 };

    let show_legend = n_groups > 1 || groups.iter().any(|g| !g.name.is_empty());
    let frame = Frame {
        left: 70.0,
        top: title_space(title),
        width: n_cat as f64 * cat_width,
        height: 260.0,
    };
    let width = frame.right() + if show_legend { 170.0 } else { 24.0 };
    let height = frame.bottom() + label_space;
    let ys = Linear {
        d0: y_domain.0,
        d1: y_domain.1,
        r0: frame.bottom(),
        r1: frame.top,
    };
    let y0 = ys.map(0.0);

    let mut out = svg_open(width, height, title);
    push_title(&mut out, width, title);
    push_axis(&mut out, frame, Side::Left, &y_ticks, ys, y_label);
    out.push_str(&format!(
        "<line x1=\"{}\" y1=\"{y}\" x2=\"{}\" y2=\"{y}\" stroke=\"#444444\"/>",
        c(frame.left),
        c(frame.right()),
        y = c(y0)
    ));

    out.push_str("<g class=\"bars\">");
    for (cat, cat_name) in categories.iter().enumerate() {
        let group_left =
            frame.left + cat as f64 * cat_width + (cat_width - n_groups as f64 * bar_width) / 2.0;
        for (g, group) in groups.iter().enumerate() {
            let v = value(g, cat);
            let x = group_left + g as f64 * bar_width;
            let what = if group.name.is_empty() {
                escape(cat_name)
            } else {
                format!("{} / {}", escape(cat_name), escape(&group.name))
            };
            if v.is_finite() {
                let yv = ys.map(v);
                out.push_str(&format!(
                    "<rect class=\"bar\" x=\"{}\" y=\"{}\" width=\"{}\" height=\"{}\" fill=\"{}\"><title>{what}: {}</title></rect>",
                    c(x + 1.0),
                    c(yv.min(y0)),
                    c(bar_width - 2.0),
                    c((yv - y0).abs()),
                    series_color(g),
                    fmt_precise(v)
                ));
            } else {
                out.push_str(&format!(
                    "<text class=\"missing\" x=\"{}\" y=\"{}\" text-anchor=\"middle\" fill=\"{MISSING_FILL}\">–<title>{what}: not finite</title></text>",
                    c(x + bar_width / 2.0),
                    c(y0 - 4.0)
                ));
            }
        }
    }
    out.push_str("</g>");

    out.push_str("<g class=\"categories\" font-size=\"11\" fill=\"#333333\">");
    for (cat, label) in labels.iter().enumerate() {
        let x = c(frame.left + (cat as f64 + 0.5) * cat_width);
        let y = c(frame.bottom() + 16.0);
        if rotate {
            out.push_str(&format!(
                "<text x=\"{x}\" y=\"{y}\" transform=\"rotate(-40 {x} {y})\" text-anchor=\"end\">{}</text>",
                escape(label)
            ));
        } else {
            out.push_str(&format!(
                "<text x=\"{x}\" y=\"{y}\" text-anchor=\"middle\">{}</text>",
                escape(label)
            ));
        }
    }
    out.push_str("</g>");

    if show_legend {
        let entries: Vec<(String, &str)> = groups
            .iter()
            .enumerate()
            .map(|(i, s)| (s.name.clone(), series_color(i)))
            .collect();
        push_legend(
            &mut out,
            frame.right() + 16.0,
            frame.top + 8.0,
            &entries,
            Swatch::Box,
        );
    }
    out.push_str("</svg>");
    out
}

/// Horizontal bars diverging around 0 (positive red, negative blue).
///
/// One row per label, the value printed in a column on the right. Missing or
/// non-finite values show a grey `–` on the zero line. With no rows or no
/// finite value the chart says "no data".
pub fn hbar_chart(title: &str, x_label: &str, labels: &[String], values: &[f64]) -> String {
    let n = labels.len().max(values.len());
    let value = |i: usize| values.get(i).copied().unwrap_or(f64::NAN);
    let Some((lo, hi)) = finite_range((0..n).map(value)) else {
        return no_data(title);
    };

    let row_height = if n > 40 { 14.0 } else { 18.0 };
    let names: Vec<String> = (0..n)
        .map(|i| truncate(labels.get(i).map(String::as_str).unwrap_or("")))
        .collect();
    let label_width = names
        .iter()
        .map(|l| text_width(l, 11.0))
        .fold(0.0, f64::max);
    let (x_ticks, x_domain) = data_axis(lo.min(0.0), hi.max(0.0), 6);
    let frame = Frame {
        left: label_width + 20.0,
        top: title_space(title),
        width: 440.0,
        height: n as f64 * row_height,
    };
    let width = frame.right() + 80.0;
    let height = frame.bottom() + 50.0;
    let xs = Linear {
        d0: x_domain.0,
        d1: x_domain.1,
        r0: frame.left,
        r1: frame.right(),
    };
    let x0 = xs.map(0.0);

    let mut out = svg_open(width, height, title);
    push_title(&mut out, width, title);
    push_axis(&mut out, frame, Side::Bottom, &x_ticks, xs, x_label);

    out.push_str("<g class=\"bars\" font-size=\"11\">");
    for (i, name) in names.iter().enumerate() {
        let v = value(i);
        let top = frame.top + i as f64 * row_height;
        let mid = c(top + row_height / 2.0);
        let label = escape(name);
        out.push_str(&format!(
            "<text x=\"{}\" y=\"{mid}\" dy=\"0.32em\" text-anchor=\"end\" fill=\"#333333\">{label}</text>",
            c(frame.left - 8.0)
        ));
        if v.is_finite() {
            let xv = xs.map(v);
            let fill = if v >= 0.0 {
                POSITIVE_FILL
            } else {
                NEGATIVE_FILL
            };
            out.push_str(&format!(
                "<rect class=\"bar\" x=\"{}\" y=\"{}\" width=\"{}\" height=\"{}\" fill=\"{fill}\"><title>{label}: {}</title></rect>",
                c(xv.min(x0)),
                c(top + 2.0),
                c((xv - x0).abs()),
                c(row_height - 4.0),
                fmt_precise(v)
            ));
        } else {
            out.push_str(&format!(
                "<text class=\"missing\" x=\"{}\" y=\"{mid}\" dy=\"0.32em\" text-anchor=\"middle\" fill=\"{MISSING_FILL}\">–<title>{label}: not finite</title></text>",
                c(x0)
            ));
        }
        out.push_str(&format!(
            "<text x=\"{}\" y=\"{mid}\" dy=\"0.32em\" fill=\"#555555\">{}</text>",
            c(frame.right() + 8.0),
            fmt_num(v)
        ));
    }
    out.push_str("</g>");
    out.push_str(&format!(
        "<line x1=\"{x}\" y1=\"{}\" x2=\"{x}\" y2=\"{}\" stroke=\"#444444\"/>",
        c(frame.top),
        c(frame.bottom()),
        x = c(x0)
    ));
    out.push_str("</svg>");
    out
}

/// Linear interpolation between colour stops; `t` is clamped to `[0, 1]`.
fn interpolate(stops: &[(u8, u8, u8)], t: f64) -> (u8, u8, u8) {
    let t = if t.is_finite() {
        t.clamp(0.0, 1.0)
    } else {
        0.0
    };
    if stops.len() < 2 {
        return stops.first().copied().unwrap_or((255, 255, 255));
    }
    let pos = t * (stops.len() - 1) as f64;
    let i = (pos.floor() as usize).min(stops.len() - 2);
    let f = pos - i as f64;
    let mix = |a: u8, b: u8| (f64::from(a) + (f64::from(b) - f64::from(a)) * f).round() as u8;
    let (a, b) = (stops[i], stops[i + 1]);
    (mix(a.0, b.0), mix(a.1, b.1), mix(a.2, b.2))
}

/// Colour of value `v` on `scale` as `(r, g, b)`; see [`color_for`].
fn color_rgb(scale: ColorScale, v: f64, lo: f64, hi: f64) -> (u8, u8, u8) {
    const WHITE: (u8, u8, u8) = (255, 255, 255);
    match scale {
        ColorScale::Sequential => {
            let span = hi - lo;
            let t = if span > 0.0 { (v - lo) / span } else { 0.0 };
            interpolate(&[WHITE, (107, 174, 214), (8, 48, 107)], t)
        }
        ColorScale::Diverging => {
            let m = lo.abs().max(hi.abs());
            let t = if m > 0.0 { v / m } else { 0.0 };
            if t >= 0.0 {
                interpolate(&[WHITE, (244, 165, 130), (178, 24, 43)], t)
            } else {
                interpolate(&[WHITE, (146, 197, 222), (33, 102, 172)], -t)
            }
        }
    }
}

/// Hex colour (`#rrggbb`) of value `v` for a heatmap whose range is `[lo, hi]`.
///
/// Sequential maps `lo` to white and `hi` to dark blue. Diverging is symmetric
/// around 0 over `±max(|lo|, |hi|)`: 0 is white, positive values red, negative
/// values blue. Non-finite values get the grey used for missing cells.
pub fn color_for(scale: ColorScale, v: f64, lo: f64, hi: f64) -> String {
    if !v.is_finite() {
        return MISSING_FILL.to_string();
    }
    let (r, g, b) = color_rgb(scale, v, lo, hi);
    format!("#{r:02x}{g:02x}{b:02x}")
}

/// Heatmap of `values[row][col]` with row/column labels and a colour bar.
///
/// Same as [`heatmap_with`] with default [`HeatmapOptions`].
pub fn heatmap(
    title: &str,
    row_labels: &[String],
    col_labels: &[String],
    values: &[Vec<f64>],
    scale: ColorScale,
) -> String {
    heatmap_with(
        title,
        row_labels,
        col_labels,
        values,
        scale,
        &HeatmapOptions::default(),
    )
}

/// Heatmap of `values[row][col]` with row/column labels, axis labels and a
/// colour bar showing the min/max (Sequential) or ±max (Diverging) numbers.
///
/// The grid has `max(row_labels.len(), values.len())` rows and as many columns
/// as the longest of `col_labels` and the value rows; each cell is one
/// `<rect class="cell">` with a `row → col: value` hover title. Missing and
/// non-finite values are drawn as grey cells (and noted under the colour bar).
/// Cells shrink for large grids (down to 4 px for ~100×100); when they get
/// small only every n-th label is printed. With zero rows or columns the chart
/// says "no data".
pub fn heatmap_with(
    title: &str,
    row_labels: &[String],
    col_labels: &[String],
    values: &[Vec<f64>],
    scale: ColorScale,
    options: &HeatmapOptions,
) -> String {
    let rows = row_labels.len().max(values.len());
    let cols = values
        .iter()
        .map(Vec::len)
        .fold(col_labels.len(), usize::max);
    if rows == 0 || cols == 0 {
        return no_data(title);
    }
    let value = |r: usize, col: usize| -> f64 {
        values
            .get(r)
            .and_then(|row| row.get(col))
            .copied()
            .unwrap_or(f64::NAN)
    };
    let label = |labels: &[String], i: usize| -> String {
        labels.get(i).map_or_else(|| i.to_string(), |s| truncate(s))
    };
    let row_names: Vec<String> = (0..rows).map(|r| label(row_labels, r)).collect();
    let col_names: Vec<String> = (0..cols).map(|i| label(col_labels, i)).collect();

    let data_range = finite_range(
        (0..rows)
            .flat_map(|r| (0..cols).map(move |i| (r, i)))
            .map(|(r, i)| value(r, i)),
    );
    let any_missing = (0..rows).any(|r| (0..cols).any(|i| !value(r, i).is_finite()));
    let (lo, hi) = match options.range {
        Some((a, b)) if a.is_finite() && b.is_finite() && a <= b => (a, b),
        _ => data_range.unwrap_or((0.0, 1.0)),
    };
    let (bar_lo, bar_hi) = match scale {
        ColorScale::Sequential => (lo, hi),
        ColorScale::Diverging => {
            let m = lo.abs().max(hi.abs());
            (-m, m)
        }
    };

    // Geometry.
    let cell = (560.0 / rows.max(cols) as f64).floor().clamp(4.0, 32.0);
    let font = (cell * 0.9).clamp(8.0, 12.0);
    let stride = ((font + 1.0) / cell).ceil().max(1.0) as usize;
    let row_label_width = row_names
        .iter()
        .map(|l| text_width(l, font))
        .fold(0.0, f64::max);
    let col_label_width = col_names
        .iter()
        .map(|l| text_width(l, font))
        .fold(0.0, f64::max);
    let rotate_cols = col_label_width > cell * stride as f64 - 2.0;
    let col_label_height = if rotate_cols {
        col_label_width + 8.0
    } else {
        font + 8.0
    };
    let y_label_space = if options.y_label.is_empty() {
        8.0
    } else {
        28.0
    };
    let grid = Frame {
        left: y_label_space + row_label_width + 8.0,
        top: title_space(title) + col_label_height,
        width: cols as f64 * cell,
        height: rows as f64 * cell,
    };
    let bar_height = grid.height.max(120.0);
    let bar_x = grid.right() + 18.0;
    let x_label_space: f64 = if options.x_label.is_empty() {
        12.0
    } else {
        36.0
    };
    let missing_space = if any_missing { 34.0 } else { 0.0 };
    let width = (bar_x + 14.0 + 70.0).max(text_width(title, 15.0) + 40.0);
    let height = grid.top + bar_height + x_label_space.max(missing_space);

    let mut out = svg_open(width, height, title);
    push_title(&mut out, width, title);

    // Cells.
    let show_values = options.show_values && cell >= 26.0;
    out.push_str("<g class=\"cells\" shape-rendering=\"crispEdges\">");
    for (r, row_name) in row_names.iter().enumerate() {
        for (i, col_name) in col_names.iter().enumerate() {
            let v = value(r, i);
            let (x, y) = (grid.left + i as f64 * cell, grid.top + r as f64 * cell);
            let shown = if v.is_finite() {
                fmt_precise(v)
            } else {
                "not finite".to_string()
            };
            out.push_str(&format!(
                "<rect class=\"cell\" x=\"{}\" y=\"{}\" width=\"{cs}\" height=\"{cs}\" fill=\"{}\"><title>{} → {}: {shown}</title></rect>",
                c(x),
                c(y),
                color_for(scale, v, lo, hi),
                escape(row_name),
                escape(col_name),
                cs = c(cell)
            ));
            if show_values && v.is_finite() {
                let (red, green, blue) = color_rgb(scale, v, lo, hi);
                let luminance =
                    0.299 * f64::from(red) + 0.587 * f64::from(green) + 0.114 * f64::from(blue);
                let ink = if luminance < 128.0 {
                    "#ffffff"
                } else {
                    "#000000"
                };
                out.push_str(&format!(
                    "<text x=\"{}\" y=\"{}\" dy=\"0.32em\" text-anchor=\"middle\" font-size=\"9\" fill=\"{ink}\" pointer-events=\"none\">{}</text>",
                    c(x + cell / 2.0),
                    c(y + cell / 2.0),
                    fmt_num(v)
                ));
            }
        }
    }
    out.push_str("</g>");

    // Row and column labels.
    out.push_str(&format!(
        "<g class=\"labels\" font-size=\"{}\" fill=\"#333333\">",
        c(font)
    ));
    for (r, name) in row_names.iter().enumerate().step_by(stride) {
        out.push_str(&format!(
            "<text x=\"{}\" y=\"{}\" dy=\"0.32em\" text-anchor=\"end\">{}</text>",
            c(grid.left - 5.0),
            c(grid.top + (r as f64 + 0.5) * cell),
            escape(name)
        ));
    }
    for (i, name) in col_names.iter().enumerate().step_by(stride) {
        let x = c(grid.left + (i as f64 + 0.5) * cell);
        let y = c(grid.top - 5.0);
        if rotate_cols {
            out.push_str(&format!(
                "<text x=\"{x}\" y=\"{y}\" dy=\"0.32em\" transform=\"rotate(-90 {x} {y})\" text-anchor=\"start\">{}</text>",
                escape(name)
            ));
        } else {
            out.push_str(&format!(
                "<text x=\"{x}\" y=\"{y}\" text-anchor=\"middle\">{}</text>",
                escape(name)
            ));
        }
    }
    out.push_str("</g>");
    if !options.y_label.is_empty() {
        let (x, y) = (c(14.0), c(grid.top + grid.height / 2.0));
        out.push_str(&format!(
            "<text class=\"axis-label\" x=\"{x}\" y=\"{y}\" transform=\"rotate(-90 {x} {y})\" text-anchor=\"middle\" fill=\"#222222\">{}</text>",
            escape(&options.y_label)
        ));
    }
    if !options.x_label.is_empty() {
        out.push_str(&format!(
            "<text class=\"axis-label\" x=\"{}\" y=\"{}\" text-anchor=\"middle\" fill=\"#222222\">{}</text>",
            c(grid.left + grid.width / 2.0),
            c(grid.bottom() + 22.0),
            escape(&options.x_label)
        ));
    }

    // Colour bar: stacked bands from bar_hi (top) to bar_lo (bottom).
    const BANDS: usize = 40;
    let band = bar_height / BANDS as f64;
    out.push_str("<g class=\"colorbar\" font-size=\"11\" fill=\"#333333\">");
    for k in 0..BANDS {
        let t = (k as f64 + 0.5) / BANDS as f64;
        let v = bar_hi - t * (bar_hi - bar_lo);
        out.push_str(&format!(
            "<rect x=\"{}\" y=\"{}\" width=\"14\" height=\"{}\" fill=\"{}\"/>",
            c(bar_x),
            c(grid.top + k as f64 * band),
            c(band + 0.5),
            color_for(scale, v, lo, hi)
        ));
    }
    out.push_str(&format!(
        "<rect x=\"{}\" y=\"{}\" width=\"14\" height=\"{}\" fill=\"none\" stroke=\"#888888\"/>",
        c(bar_x),
        c(grid.top),
        c(bar_height)
    ));
    let bar_text = |v: f64| {
        if scale == ColorScale::Diverging && v > 0.0 {
            format!("+{}", fmt_num(v))
        } else {
            fmt_num(v)
        }
    };
    let tx = c(bar_x + 18.0);
    out.push_str(&format!(
        "<text x=\"{tx}\" y=\"{}\" dy=\"0.32em\">{}</text><text x=\"{tx}\" y=\"{}\" dy=\"0.32em\">{}</text>",
        c(grid.top + 5.0),
        bar_text(bar_hi),
        c(grid.top + bar_height - 5.0),
        bar_text(bar_lo)
    ));
    if scale == ColorScale::Diverging {
        out.push_str(&format!(
            "<text x=\"{tx}\" y=\"{}\" dy=\"0.32em\">0</text>",
            c(grid.top + bar_height / 2.0)
        ));
    }
    if any_missing {
        let y = grid.top + bar_height + 12.0;
        out.push_str(&format!(
            "<rect x=\"{}\" y=\"{}\" width=\"10\" height=\"10\" fill=\"{MISSING_FILL}\"/>\
             <text x=\"{}\" y=\"{}\" dy=\"0.32em\" font-size=\"10\">not finite</text>",
            c(bar_x),
            c(y),
            c(bar_x + 14.0),
            c(y + 5.0)
        ));
    }
    out.push_str("</g></svg>");
    out
}

/// Scatter plot with a text label next to every point and coloured groups.
///
/// Points whose group has a name in `group_names` appear in the legend
/// (no legend when `group_names` is empty). Non-finite points are skipped;
/// with no finite point the chart says "no data".
pub fn scatter(
    title: &str,
    x_label: &str,
    y_label: &str,
    points: &[ScatterPoint],
    group_names: &[String],
) -> String {
    let finite: Vec<&ScatterPoint> = points
        .iter()
        .filter(|p| p.x.is_finite() && p.y.is_finite())
        .collect();
    let (Some((x_lo, x_hi)), Some((y_lo, y_hi))) = (
        finite_range(finite.iter().map(|p| p.x)),
        finite_range(finite.iter().map(|p| p.y)),
    ) else {
        return no_data(title);
    };

    // Pad the data range a little so points and labels stay off the axes.
    let pad = |lo: f64, hi: f64| (lo - (hi - lo) * 0.04, hi + (hi - lo) * 0.04);
    let (x_lo, x_hi) = pad(x_lo, x_hi);
    let (y_lo, y_hi) = pad(y_lo, y_hi);
    let (x_ticks, x_domain) = data_axis(x_lo, x_hi, 8);
    let (y_ticks, y_domain) = data_axis(y_lo, y_hi, 8);
    let show_legend = !group_names.is_empty();
    let frame = Frame {
        left: 70.0,
        top: title_space(title),
        width: 560.0,
        height: 420.0,
    };
    let width = frame.right() + if show_legend { 170.0 } else { 40.0 };
    let height = frame.bottom() + 52.0;
    let xs = Linear {
        d0: x_domain.0,
        d1: x_domain.1,
        r0: frame.left,
        r1: frame.right(),
    };
    let ys = Linear {
        d0: y_domain.0,
        d1: y_domain.1,
        r0: frame.bottom(),
        r1: frame.top,
    };

    let mut out = svg_open(width, height, title);
    push_title(&mut out, width, title);
    push_axis(&mut out, frame, Side::Left, &y_ticks, ys, y_label);
    push_axis(&mut out, frame, Side::Bottom, &x_ticks, xs, x_label);

    out.push_str("<g class=\"points\" font-size=\"10\">");
    for p in &finite {
        let (px, py) = (xs.map(p.x), ys.map(p.y));
        let label = escape(&p.label);
        let group = group_names
            .get(p.group)
            .map(|g| format!(" [{}]", escape(g)))
            .unwrap_or_default();
        out.push_str(&format!(
            "<circle class=\"point\" cx=\"{}\" cy=\"{}\" r=\"3.5\" fill=\"{}\" fill-opacity=\"0.85\"><title>{label}{group}: ({}, {})</title></circle>\
             <text x=\"{}\" y=\"{}\" fill=\"#333333\">{label}</text>",
            c(px),
            c(py),
            series_color(p.group),
            fmt_precise(p.x),
            fmt_precise(p.y),
            c(px + 5.0),
            c(py - 4.0)
        ));
    }
    out.push_str("</g>");

    if show_legend {
        let entries: Vec<(String, &str)> = group_names
            .iter()
            .enumerate()
            .map(|(i, name)| (name.clone(), series_color(i)))
            .collect();
        push_legend(
            &mut out,
            frame.right() + 20.0,
            frame.top + 8.0,
            &entries,
            Swatch::Dot,
        );
    }
    out.push_str("</svg>");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(text: &str) -> String {
        text.to_string()
    }

    fn count(haystack: &str, needle: &str) -> usize {
        haystack.matches(needle).count()
    }

    /// Checks the structural invariants every chart must satisfy.
    fn assert_well_formed(svg: &str) {
        assert!(
            svg.starts_with("<svg"),
            "does not start with <svg: {}",
            &svg[..svg.len().min(80)]
        );
        assert!(svg.ends_with("</svg>"), "does not end with </svg>");
        assert!(svg.contains("xmlns=\"http://www.w3.org/2000/svg\""));
        assert!(svg.contains("viewBox=\"0 0 "));
        assert!(svg.contains("font-family=\"sans-serif\""));
        let opened_g = count(svg, "<g ") + count(svg, "<g>");
        assert_eq!(opened_g, count(svg, "</g>"), "unbalanced <g>");
        assert_eq!(count(svg, "<svg"), count(svg, "</svg>"), "unbalanced <svg>");
        assert_eq!(
            count(svg, "<text"),
            count(svg, "</text>"),
            "unbalanced <text>"
        );
        assert_eq!(
            count(svg, "<title>"),
            count(svg, "</title>"),
            "unbalanced <title>"
        );
        assert!(!svg.contains("NaN"), "contains NaN");
        assert!(!svg.contains("inf"), "contains inf");
    }

    fn all_charts_with(title: &str, label: &str, bad: f64) -> Vec<String> {
        let series = vec![
            Series {
                name: s(label),
                points: vec![(0.0, 1.0), (1.0, bad), (2.0, 3.0), (3.0, 2.5), (bad, 1.0)],
            },
            Series {
                name: s("second"),
                points: vec![(0.0, 0.5), (1.0, 0.7), (2.0, bad)],
            },
        ];
        let groups = vec![
            Series2 {
                name: s(label),
                values: vec![1.0, bad, -2.0],
            },
            Series2 {
                name: s("b"),
                values: vec![0.5, 2.0],
            },
        ];
        let cats = vec![s(label), s("two"), s("three")];
        let points = vec![
            ScatterPoint {
                x: 0.0,
                y: 1.0,
                label: s(label),
                group: 0,
            },
            ScatterPoint {
                x: bad,
                y: 1.0,
                label: s("x"),
                group: 1,
            },
            ScatterPoint {
                x: 2.0,
                y: -1.0,
                label: s("^"),
                group: 1,
            },
        ];
        vec![
            line_chart(title, label, label, &series, None),
            line_chart(title, label, label, &series, Some((0.0, 2.0))),
            bar_chart(title, label, &cats, &groups),
            hbar_chart(title, label, &cats, &[1.0, bad, -0.5]),
            heatmap(
                title,
                &cats,
                &cats,
                &[
                    vec![1.0, bad, -1.0],
                    vec![0.0, 0.5, bad],
                    vec![2.0, 1.0, 0.0],
                ],
                ColorScale::Diverging,
            ),
            heatmap_with(
                title,
                &cats,
                &cats,
                &[vec![1.0, bad, 3.0], vec![0.0, 0.5, bad]],
                ColorScale::Sequential,
                &HeatmapOptions {
                    x_label: s(label),
                    y_label: s(label),
                    show_values: true,
                    range: None,
                },
            ),
            scatter(title, label, label, &points, &[s(label), s("other")]),
        ]
    }

    #[test]
    fn escape_handles_special_characters() {
        assert_eq!(escape("<&>\"'"), "&lt;&amp;&gt;&quot;&#39;");
        assert_eq!(escape("(^_^) ツ ¯ ␣"), "(^_^) ツ ¯ ␣");
        assert_eq!(escape("a\u{1}b"), "a\u{fffd}b");
    }

    #[test]
    fn titles_and_labels_are_escaped_in_every_chart() {
        let nasty = "<b>&\"'";
        for svg in all_charts_with(nasty, nasty, 1.0) {
            assert_well_formed(&svg);
            assert!(!svg.contains("<b>"), "raw markup leaked: {svg}");
            assert!(
                svg.contains("&lt;b&gt;&amp;&quot;&#39;"),
                "escaped label missing"
            );
        }
    }

    #[test]
    fn non_finite_inputs_never_print_nan_or_inf() {
        for bad in [f64::NAN, f64::INFINITY, f64::NEG_INFINITY] {
            for svg in all_charts_with("title", "label", bad) {
                assert_well_formed(&svg);
            }
        }
        // Charts made only of non-finite values.
        let nan = f64::NAN;
        let only_nan = [
            line_chart(
                "t",
                "x",
                "y",
                &[Series {
                    name: s("a"),
                    points: vec![(nan, nan)],
                }],
                None,
            ),
            hbar_chart("t", "x", &[s("a")], &[nan]),
            heatmap(
                "t",
                &[s("a")],
                &[s("b")],
                &[vec![nan]],
                ColorScale::Sequential,
            ),
            heatmap(
                "t",
                &[s("a")],
                &[s("b")],
                &[vec![f64::INFINITY]],
                ColorScale::Diverging,
            ),
        ];
        for svg in only_nan {
            assert_well_formed(&svg);
        }
    }

    #[test]
    fn empty_inputs_give_a_no_data_note() {
        let charts = [
            line_chart("empty", "x", "y", &[], None),
            line_chart("empty", "x", "y", &[Series::default()], None),
            bar_chart("empty", "y", &[], &[]),
            bar_chart("empty", "y", &[s("a")], &[]),
            hbar_chart("empty", "x", &[], &[]),
            heatmap("empty", &[], &[], &[], ColorScale::Sequential),
            heatmap("empty", &[s("a")], &[], &[vec![]], ColorScale::Diverging),
            scatter("empty", "x", "y", &[], &[]),
            scatter("", "", "", &[], &[]),
        ];
        for svg in charts {
            assert_well_formed(&svg);
            assert!(svg.contains("no data"), "missing no-data note: {svg}");
        }
    }

    #[test]
    fn heatmap_draws_one_rect_per_cell() {
        let rows: Vec<String> = ["(", "^", "ツ"].iter().map(|l| s(l)).collect();
        let cols: Vec<String> = ["¯", "␣", "<", ")"].iter().map(|l| s(l)).collect();
        let values: Vec<Vec<f64>> = (0..3)
            .map(|r| (0..4).map(|c| r as f64 - c as f64 * 0.5).collect())
            .collect();
        let svg = heatmap("attn", &rows, &cols, &values, ColorScale::Diverging);
        assert_well_formed(&svg);
        assert_eq!(count(&svg, "class=\"cell\""), 12);
        assert!(
            svg.contains("<title>ツ → &lt;: 1</title>"),
            "exact value title missing"
        );
        assert!(svg.contains("<title>( → ): -1.5</title>"));
        // Ragged input still produces a full grid with grey cells.
        let ragged = heatmap(
            "r",
            &rows,
            &cols,
            &[vec![1.0], vec![2.0, 3.0]],
            ColorScale::Sequential,
        );
        assert_eq!(count(&ragged, "class=\"cell\""), 12);
        assert!(ragged.contains(MISSING_FILL));
    }

    #[test]
    fn large_heatmap_is_complete_and_reasonably_small() {
        let n = 100;
        let labels: Vec<String> = (0..n).map(|i| format!("{i}")).collect();
        let values: Vec<Vec<f64>> = (0..n)
            .map(|r| (0..n).map(|c| ((r * c) as f64).sin() / 3.0).collect())
            .collect();
        let svg = heatmap("big", &labels, &labels, &values, ColorScale::Diverging);
        assert_well_formed(&svg);
        assert_eq!(count(&svg, "class=\"cell\""), n * n);
        assert!(
            svg.len() < 2_000_000,
            "heatmap too large: {} bytes",
            svg.len()
        );
        // Coordinates are rounded to at most two decimals.
        for attr in [" x=\"", " y=\"", " width=\"", " height=\""] {
            for piece in svg.split(attr).skip(1) {
                let number = piece.split('"').next().unwrap_or("");
                let decimals = number.split_once('.').map_or(0, |(_, d)| d.len());
                assert!(decimals <= 2, "unrounded coordinate {attr}{number}");
            }
        }
    }

    #[test]
    fn diverging_scale_is_white_at_zero_and_hued_by_sign() {
        assert_eq!(color_for(ColorScale::Diverging, 0.0, -2.0, 1.0), "#ffffff");
        let (r, g, b) = color_rgb(ColorScale::Diverging, 1.0, -1.0, 1.0);
        assert!(r > b && r > g, "positive should be red, got {r},{g},{b}");
        let (r, g, b) = color_rgb(ColorScale::Diverging, -1.0, -1.0, 1.0);
        assert!(b > r && b > g, "negative should be blue, got {r},{g},{b}");
        // Symmetric: -0.5 and +0.5 are equally far from white.
        let (pr, _, _) = color_rgb(ColorScale::Diverging, 0.5, -1.0, 1.0);
        let (_, _, nb) = color_rgb(ColorScale::Diverging, -0.5, -1.0, 1.0);
        assert!(pr > 200 && nb > 200);
        // Sequential: white at min, dark blue at max.
        assert_eq!(color_for(ColorScale::Sequential, 2.0, 2.0, 5.0), "#ffffff");
        let (r, g, b) = color_rgb(ColorScale::Sequential, 5.0, 2.0, 5.0);
        assert!(
            b > r && b > g && r < 60,
            "max should be dark blue, got {r},{g},{b}"
        );
        assert_eq!(
            color_for(ColorScale::Sequential, f64::NAN, 0.0, 1.0),
            MISSING_FILL
        );
    }

    #[test]
    fn ticks_use_1_2_5_steps_and_cover_the_range() {
        let cases = [
            (0.0, 1.0),
            (0.0, 0.93),
            (-3.7, 12.2),
            (0.3, 0.7),
            (1e-5, 3e-5),
            (-1e7, 2.5e7),
            (5.0, 5.0),
            (0.0, 0.0),
            (10.0, 2.0),
            (123.0, 987.0),
        ];
        for (lo, hi) in cases {
            let ticks = nice_ticks(lo, hi, 6);
            assert!(
                ticks.len() >= 2 && ticks.len() <= 16,
                "{lo}..{hi}: {ticks:?}"
            );
            let (a, b) = (lo.min(hi), lo.max(hi));
            let first = ticks.first().copied().unwrap_or(f64::NAN);
            let last = ticks.last().copied().unwrap_or(f64::NAN);
            assert!(
                first <= a && last >= b,
                "{lo}..{hi} not covered by {ticks:?}"
            );
            let step = ticks[1] - ticks[0];
            let mantissa = step / 10f64.powf(step.log10().floor());
            assert!(
                [1.0, 2.0, 5.0].iter().any(|m| (mantissa - m).abs() < 1e-6),
                "{lo}..{hi}: step {step} is not 1/2/5 x 10^k"
            );
            for w in ticks.windows(2) {
                assert!(
                    (w[1] - w[0] - step).abs() < step * 1e-6,
                    "uneven ticks {ticks:?}"
                );
            }
        }
        assert_eq!(nice_ticks(0.0, 1.0, 5), vec![0.0, 0.2, 0.4, 0.6, 0.8, 1.0]);
        assert_eq!(nice_ticks(0.3, 0.7, 4), vec![0.3, 0.4, 0.5, 0.6, 0.7]);
        assert_eq!(
            tick_labels(&nice_ticks(0.0, 1.0, 5)),
            ["0.0", "0.2", "0.4", "0.6", "0.8", "1.0"]
        );
        assert_eq!(tick_labels(&[-10.0, 0.0, 10.0]), ["-10", "0", "10"]);
        assert_eq!(nice_ticks(f64::NAN, 1.0, 5), vec![0.0, 1.0]);
    }

    #[test]
    fn fmt_num_is_compact() {
        assert_eq!(fmt_num(0.0), "0");
        assert_eq!(fmt_num(-0.0), "0");
        assert_eq!(fmt_num(1.0), "1");
        assert_eq!(fmt_num(1.23456), "1.23");
        assert_eq!(fmt_num(-12.345), "-12.3");
        assert_eq!(fmt_num(0.012345), "0.0123");
        assert_eq!(fmt_num(1234.6), "1235");
        assert_eq!(fmt_num(0.000123), "1.23e-4");
        assert_eq!(fmt_num(2.5e7), "2.5e7");
        assert_eq!(fmt_num(f64::NAN), "–");
        assert_eq!(fmt_num(f64::NEG_INFINITY), "–");
        assert_eq!(fmt_precise(1.23449), "1.234");
    }

    #[test]
    fn line_chart_has_distinct_colours_legend_and_point_titles() {
        let series = vec![
            Series {
                name: s("train loss"),
                points: vec![(0.0, 2.0), (100.0, 1.0), (200.0, 0.5)],
            },
            Series {
                name: s("val loss"),
                points: vec![(0.0, 2.1), (100.0, 1.2), (200.0, 0.7)],
            },
        ];
        let svg = line_chart("Loss", "step", "loss", &series, None);
        assert_well_formed(&svg);
        assert!(svg.contains(series_color(0)) && svg.contains(series_color(1)));
        assert_ne!(series_color(0), series_color(1));
        assert!(svg.contains(">train loss</text>") && svg.contains(">val loss</text>"));
        assert!(svg.contains("<title>val loss (100, 1.2)</title>"));
        assert_eq!(count(&svg, "<polyline"), 2);
        // A NaN in the middle splits the line into two segments.
        let gap = Series {
            name: s("gap"),
            points: vec![
                (0.0, 1.0),
                (1.0, 2.0),
                (2.0, f64::NAN),
                (3.0, 1.0),
                (4.0, 0.0),
            ],
        };
        let svg = line_chart("", "", "", &[gap], None);
        assert_eq!(count(&svg, "<polyline"), 2);
    }

    #[test]
    fn bar_chart_includes_zero_and_negative_values() {
        let cats = vec![
            s("kaomoji"),
            s("western"),
            s("plain text that is rather long"),
        ];
        let groups = vec![
            Series2 {
                name: s("model A"),
                values: vec![0.9, 0.8, -0.3],
            },
            Series2 {
                name: s("model B"),
                values: vec![0.7, 0.95, 0.1],
            },
        ];
        let svg = bar_chart("Accuracy", "score", &cats, &groups);
        assert_well_formed(&svg);
        assert_eq!(count(&svg, "class=\"bar\""), 6);
        assert!(svg.contains("<title>western / model B: 0.95</title>"));
        assert!(
            svg.contains(">-0.4</text>") || svg.contains(">-0.5</text>"),
            "no negative tick"
        );
        assert!(svg.contains("rotate(-40"), "long labels should be rotated");
        // All positive: the axis starts at exactly 0.
        let svg = bar_chart(
            "",
            "",
            &[s("a")],
            &[Series2 {
                name: s(""),
                values: vec![5.0],
            }],
        );
        assert!(svg.contains(">0</text>") && !svg.contains(">-"));
    }

    #[test]
    fn hbar_chart_colours_by_sign() {
        let labels = vec![s("("), s("^"), s("x")];
        let svg = hbar_chart(
            "Push towards face",
            "contribution",
            &labels,
            &[0.5, 1.25, -0.75],
        );
        assert_well_formed(&svg);
        assert_eq!(count(&svg, &format!("fill=\"{POSITIVE_FILL}\"")), 2);
        assert_eq!(count(&svg, &format!("fill=\"{NEGATIVE_FILL}\"")), 1);
        assert!(svg.contains("<title>x: -0.75</title>"));
    }

    #[test]
    fn scatter_labels_points_and_groups() {
        let points: Vec<ScatterPoint> = "(^_^)ツ"
            .chars()
            .enumerate()
            .map(|(i, ch)| ScatterPoint {
                x: i as f64,
                y: (i as f64).cos(),
                label: ch.to_string(),
                group: i % 2,
            })
            .collect();
        let svg = scatter(
            "Embeddings",
            "PC1",
            "PC2",
            &points,
            &[s("brackets"), s("other")],
        );
        assert_well_formed(&svg);
        assert_eq!(count(&svg, "class=\"point\""), points.len());
        assert!(svg.contains(">ツ</text>"));
        assert!(svg.contains(">brackets</text>") && svg.contains(">other</text>"));
        assert!(svg.contains(series_color(1)));
    }
}

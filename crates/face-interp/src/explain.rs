//! One string, taken apart in the terminal: the prediction, and per position the
//! character, its attention row (shaded), its exact contribution to the logit, and what
//! the extracted rule ([`crate::rule`]) says the position attends to and votes.

use std::fmt::Write as _;

use face_data::{PadSide, Vocab, canonicalize};
use face_model::RawModel;

use crate::decompose::decompose;
use crate::error::{Error, Result};
use crate::predict::sigmoid;

const SHADES: [char; 5] = [' ', '░', '▒', '▓', '█'];

fn shade(a: f64) -> char {
    let i = (a * (SHADES.len() - 1) as f64 + 0.5).floor() as usize;
    SHADES[i.min(SHADES.len() - 1)]
}

fn show(vocab: &Vocab, id: u32) -> String {
    crate::analysis::token_display(vocab, id, "·", "�")
}

/// Computes a per-position attribution of one padded row: `(method name, [n_ctx])`.
pub type AttributionFn<'a> = &'a dyn Fn(&[u32]) -> (String, Vec<f64>);

/// The explanation as text; `attribution`, when given, adds a column for the row shown.
pub fn explain(
    raw: &RawModel,
    vocab: &Vocab,
    text: &str,
    side: PadSide,
    attribution: Option<AttributionFn<'_>>,
) -> Result<String> {
    let n_ctx = raw.config().n_ctx;
    let canon = canonicalize(text);
    if canon.is_empty() {
        return Err(Error::Input(
            "empty string (after canonicalisation); give at least one character".into(),
        ));
    }
    let enc = vocab.encode(&canon);
    let mut out = String::new();
    let rows: Vec<Vec<u32>> = if enc.ids.len() <= n_ctx {
        vec![vocab.encode_padded(&canon, n_ctx, side)?.ids]
    } else {
        enc.ids.windows(n_ctx).map(<[u32]>::to_vec).collect()
    };
    // The window the prediction comes from: the highest logit.
    let (best, d) = rows
        .iter()
        .enumerate()
        .map(|(i, r)| (i, decompose(raw, r)))
        .max_by(|a, b| a.1.logit().total_cmp(&b.1.logit()))
        .ok_or_else(|| Error::Input("nothing to explain".into()))?;
    let row = &rows[best];
    let z = d.logit();
    let _ = writeln!(out, "text        {text}");
    if canon != text {
        let _ = writeln!(out, "canonical   {canon}");
    }
    if enc.unknown > 0 {
        let _ = writeln!(
            out,
            "unknown     {} character(s) outside the charset, shown as �",
            enc.unknown
        );
    }
    if rows.len() > 1 {
        let _ = writeln!(
            out,
            "window      {} of {} ({} characters > n_ctx {}): the one with the highest logit",
            best + 1,
            rows.len(),
            enc.ids.len(),
            n_ctx
        );
    }
    let _ = writeln!(
        out,
        "prediction  {} (p = {:.4}), logit {:+.4} = b_U {:+.4} + Σ contributions below",
        if z >= 0.0 { "FACE" } else { "no face" },
        sigmoid(z as f32),
        z,
        d.bias
    );
    let _ = writeln!(
        out,
        "truth       {}",
        if face_data::contains_face(&canon) {
            "contains a face"
        } else {
            "no face"
        }
    );
    let toks: Vec<String> = row.iter().map(|&t| show(vocab, t)).collect();
    let _ = writeln!(out);
    let _ = write!(out, "pos tok  contribution  attention to: ");
    for t in &toks {
        let _ = write!(out, "{t}");
    }
    let _ = writeln!(out);
    let by_q = d.by_query();
    let rule = crate::rule::AttentionRule::from_raw(raw, crate::rule::DEFAULT_WINDOW);
    let steps = rule.trace(vocab, row);
    let attr = attribution.map(|f| f(row));
    if let Some((name, _)) = &attr {
        let _ = writeln!(
            out,
            "(last column: {name} attribution of each position's character)"
        );
    }
    let max = by_q.iter().map(|v| v.abs()).fold(0.0, f64::max).max(1e-12);
    for q in 0..n_ctx {
        let bar_len = ((by_q[q].abs() / max) * 10.0).round() as usize;
        let bar: String =
            std::iter::repeat_n(if by_q[q] >= 0.0 { '+' } else { '-' }, bar_len).collect();
        let attn: String = d.pattern_row(q).iter().map(|&a| shade(a)).collect();
        let extra = attr
            .as_ref()
            .and_then(|(_, a)| a.get(q))
            .map_or(String::new(), |v| format!("  {v:>+9.4}"));
        let ruled = steps.get(q).map_or(String::new(), |s| {
            let mut p: Vec<String> = s
                .partners
                .iter()
                .take(2)
                .map(|(t, w)| format!("{t} {w:.2}"))
                .collect();
            if s.partners.len() > 2 {
                p.push("…".into());
            }
            format!("  rule: {} → {:+.2}", p.join(", "), s.vote)
        });
        let _ = writeln!(
            out,
            "{q:>3} {:<3} {:>+9.4} {:<10} {}{extra}{ruled}",
            toks[q], by_q[q], bar, attn
        );
    }
    let score = rule.score(row);
    let _ = writeln!(
        out,
        "\nextracted rule (window {}): score {:+.4} → {}, {} the model",
        rule.window(),
        score,
        if score >= 0.0 { "FACE" } else { "no face" },
        if (score >= 0.0) == (z >= 0.0) {
            "agreeing with"
        } else {
            "disagreeing with"
        }
    );
    let _ = writeln!(
        out,
        "\nshades: ' ' < 0.125 ≤ ░ < 0.375 ≤ ▒ < 0.625 ≤ ▓ < 0.875 ≤ █ (attention weight); · is PAD"
    );
    Ok(out)
}

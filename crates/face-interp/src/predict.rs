//! Bulk prediction with the raw `f32` evaluator: one line in, one line out, in order.
//!
//! Each line is canonicalised (as the face catalogue is), encoded (unknown characters
//! become UNK and are counted) and padded. A line longer than `n_ctx` characters is
//! scanned with a window of `n_ctx` characters at every offset and gets the highest
//! window probability.

use face_data::{PadSide, Vocab, canonicalize};
use face_model::RawModel;

use crate::error::{Error, Result};

/// Per-line results.
#[derive(Debug, Clone, PartialEq)]
pub struct Predictions {
    /// Logit per line (the maximum over windows for long lines).
    pub logits: Vec<f32>,
    /// Unknown characters met.
    pub unknown: usize,
    /// Lines longer than `n_ctx` (scanned with windows).
    pub windowed: usize,
}

/// Splits `input` into lines (`\n`, with an optional `\r`), checking UTF-8; the error
/// names the 1-based line.
pub fn lines<'a>(input: &'a [u8], source: &str) -> Result<Vec<&'a str>> {
    if input.is_empty() {
        return Err(Error::Input(format!(
            "{source}: empty input; give one string per line"
        )));
    }
    let body = input.strip_suffix(b"\n").unwrap_or(input);
    body.split(|&b| b == b'\n')
        .enumerate()
        .map(|(i, l)| {
            let l = l.strip_suffix(b"\r").unwrap_or(l);
            std::str::from_utf8(l).map_err(|e| {
                Error::Input(format!(
                    "{source}: line {}: invalid UTF-8 at byte {}; convert the input to UTF-8",
                    i + 1,
                    e.valid_up_to()
                ))
            })
        })
        .collect()
}

/// Predicts every line, on every core (lines are split into contiguous chunks, so the
/// output order is the input order).
pub fn predict(
    raw: &RawModel,
    vocab: &Vocab,
    lines: &[&str],
    side: PadSide,
) -> Result<Predictions> {
    let threads = std::thread::available_parallelism().map_or(1, |t| t.get());
    let chunk = lines.len().div_ceil(threads).max(1);
    let parts: Vec<Result<(Predictions, usize)>> = std::thread::scope(|scope| {
        let handles: Vec<_> = lines
            .chunks(chunk)
            .enumerate()
            .map(|(i, c)| scope.spawn(move || predict_chunk(raw, vocab, c, side, i * chunk)))
            .collect();
        handles
            .into_iter()
            .map(|h| {
                h.join()
                    .unwrap_or_else(|_| Err(Error::Input("a prediction thread panicked".into())))
            })
            .collect()
    });
    let mut out = Predictions {
        logits: Vec::with_capacity(lines.len()),
        unknown: 0,
        windowed: 0,
    };
    for p in parts {
        let (p, _) = p?;
        out.logits.extend(p.logits);
        out.unknown += p.unknown;
        out.windowed += p.windowed;
    }
    Ok(out)
}

fn predict_chunk(
    raw: &RawModel,
    vocab: &Vocab,
    lines: &[&str],
    side: PadSide,
    first_line: usize,
) -> Result<(Predictions, usize)> {
    let n_ctx = raw.config().n_ctx;
    let mut ids: Vec<u32> = Vec::with_capacity(lines.len() * n_ctx);
    let mut spans = Vec::with_capacity(lines.len());
    let (mut unknown, mut windowed) = (0usize, 0usize);
    let mut long: Vec<(usize, f32)> = Vec::new();
    for (i, line) in lines.iter().enumerate() {
        let canon = if face_data::is_canonical(line) {
            std::borrow::Cow::Borrowed(*line)
        } else {
            std::borrow::Cow::Owned(canonicalize(line))
        };
        // An empty line (or one that canonicalises to nothing) is scored as all PAD, so
        // every input line gets its output line.
        let start = ids.len() / n_ctx;
        let row = ids.len();
        let mut len = 0usize;
        for c in canon.chars() {
            let id = vocab.id(c);
            unknown += usize::from(id == face_data::UNK_ID);
            ids.push(id);
            len += 1;
        }
        if len <= n_ctx {
            let pad = n_ctx - len;
            ids.resize(row + n_ctx, face_data::PAD_ID);
            if side == PadSide::Left && pad > 0 {
                ids[row..row + n_ctx].rotate_right(pad);
            }
        } else {
            // Long line: evaluate its windows here, keeping only the best (memory stays
            // proportional to the line, not to line × n_ctx).
            windowed += 1;
            let text: Vec<u32> = ids.split_off(row);
            let best = text
                .windows(n_ctx)
                .map(|w| raw.logit(w))
                .fold(f32::NEG_INFINITY, f32::max);
            long.push((i, best));
            spans.push((start, start));
            continue;
        }
        spans.push((start, ids.len() / n_ctx));
    }
    let mut z = vec![0.0f32; ids.len() / n_ctx];
    raw.logits(&ids, &mut z);
    let mut logits: Vec<f32> = spans
        .iter()
        .map(|&(a, b)| z[a..b].iter().copied().fold(f32::NEG_INFINITY, f32::max))
        .collect();
    for (i, best) in long {
        logits[i] = best;
    }
    Ok((
        Predictions {
            logits,
            unknown,
            windowed,
        },
        first_line,
    ))
}

/// Formats predictions as TSV (`probability<TAB>0|1<TAB>text`) or JSON lines, on every
/// core; the bytes are in input order.
pub fn format(lines: &[&str], logits: &[f32], jsonl: bool) -> Vec<u8> {
    use std::io::Write;
    let threads = std::thread::available_parallelism().map_or(1, |t| t.get());
    let chunk = lines.len().div_ceil(threads).max(1);
    let parts: Vec<Vec<u8>> = std::thread::scope(|scope| {
        let handles: Vec<_> = lines
            .chunks(chunk)
            .zip(logits.chunks(chunk))
            .map(|(ls, zs)| {
                scope.spawn(move || {
                    let mut out = Vec::with_capacity(ls.len() * 32);
                    for (line, &z) in ls.iter().zip(zs) {
                        let prob = sigmoid(z);
                        let label = u8::from(z >= 0.0);
                        // Writing into a Vec cannot fail.
                        let _ = if jsonl {
                            writeln!(
                                out,
                                "{{\"probability\":{prob:.6},\"label\":{label},\"text\":{}}}",
                                serde_json::to_string(line).unwrap_or_default()
                            )
                        } else {
                            writeln!(out, "{prob:.6}\t{label}\t{line}")
                        };
                    }
                    out
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().unwrap_or_default())
            .collect()
    });
    parts.concat()
}

/// `sigmoid(z)`.
pub fn sigmoid(z: f32) -> f32 {
    1.0 / (1.0 + (-z).exp())
}

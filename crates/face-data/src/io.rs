//! Atomic file writes and dataset files (JSONL and TSV).
//!
//! Dataset lines: JSONL `{"text": "...", "label": 0|1}`, or TSV `label<TAB>text` (the text
//! last, since the charset has no tab but may start or end with a space).

use std::fs;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// Writes a file atomically: the content goes to a temporary file in the same directory,
/// which is flushed, synced and renamed over `path`. On any error the temporary file is
/// removed and `path` is untouched, so readers never see a half-written file.
pub fn write_atomic<F>(path: &Path, write: F) -> Result<()>
where
    F: FnOnce(&mut BufWriter<&fs::File>) -> std::io::Result<()>,
{
    let io_err = |source| Error::Io {
        path: path.to_path_buf(),
        source,
    };
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "out".into());
    let tmp = dir.join(format!(".{name}.tmp-{}", std::process::id()));
    let result = (|| {
        let file = fs::File::create(&tmp)?;
        {
            let mut w = BufWriter::new(&file);
            write(&mut w)?;
            w.flush()?;
        }
        file.sync_all()?;
        fs::rename(&tmp, path)
    })();
    if let Err(e) = result {
        let _ = fs::remove_file(&tmp);
        return Err(io_err(e));
    }
    Ok(())
}

/// FNV-1a 64-bit hash: a stable content fingerprint (unlike `DefaultHasher`, it does not
/// change between Rust releases), used for pinned outputs and checkpoint manifests.
pub fn fnv1a64(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325u64, |h, &b| {
        (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

/// Dataset file formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// One JSON object per line: `{"text": ..., "label": 0|1}`.
    Jsonl,
    /// `label<TAB>text` per line.
    Tsv,
}

/// One labelled line of a dataset file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Record {
    /// The string.
    pub text: String,
    /// 1 if it contains a face, else 0.
    pub label: u8,
}

/// Writes one record as a line (with the trailing newline).
pub fn write_record<W: Write + ?Sized>(
    w: &mut W,
    format: Format,
    text: &str,
    label: bool,
) -> std::io::Result<()> {
    match format {
        Format::Jsonl => {
            w.write_all(b"{\"text\":")?;
            serde_json::to_writer(&mut *w, text)?;
            writeln!(w, ",\"label\":{}}}", u8::from(label))
        }
        Format::Tsv => writeln!(w, "{}\t{}", u8::from(label), text),
    }
}

/// Guesses the format from the extension (`.jsonl`/`.json`, `.tsv`), else from the first
/// non-empty line (a `{` means JSONL).
pub fn sniff_format(path: &Path, bytes: &[u8]) -> Format {
    match path.extension().and_then(|e| e.to_str()) {
        Some("jsonl") | Some("json") => return Format::Jsonl,
        Some("tsv") => return Format::Tsv,
        _ => {}
    }
    let first = bytes
        .split(|&b| b == b'\n')
        .find(|l| !l.iter().all(u8::is_ascii_whitespace));
    match first {
        Some(l) if l.trim_ascii_start().starts_with(b"{") => Format::Jsonl,
        _ => Format::Tsv,
    }
}

/// Parses a dataset file's bytes. Fails on the first invalid line, naming it: invalid
/// UTF-8, malformed JSON or TSV, or a label other than 0 or 1. A final newline is optional;
/// empty lines are errors (an empty text is not a valid example).
pub fn parse_records(path: &Path, bytes: &[u8], format: Format) -> Result<Vec<Record>> {
    let bad = |line: usize, reason: String| Error::BadLine {
        path: path.to_path_buf(),
        line,
        reason,
    };
    let body = bytes.strip_suffix(b"\n").unwrap_or(bytes);
    if body.is_empty() {
        return Ok(Vec::new());
    }
    let mut out = Vec::new();
    for (i, raw) in body.split(|&b| b == b'\n').enumerate() {
        let n = i + 1;
        let raw = raw.strip_suffix(b"\r").unwrap_or(raw);
        let line = std::str::from_utf8(raw).map_err(|e| {
            bad(
                n,
                format!(
                    "invalid UTF-8 at byte {} of the line; re-encode the file as UTF-8",
                    e.valid_up_to()
                ),
            )
        })?;
        let record = match format {
            Format::Jsonl => serde_json::from_str::<Record>(line).map_err(|e| {
                bad(
                    n,
                    format!("expected {{\"text\": ..., \"label\": 0|1}}: {e}"),
                )
            })?,
            Format::Tsv => {
                let (label, text) = line
                    .split_once('\t')
                    .ok_or_else(|| bad(n, "expected label<TAB>text".into()))?;
                let label = label
                    .parse::<u8>()
                    .map_err(|_| bad(n, format!("label {label:?} is not 0 or 1")))?;
                Record {
                    text: text.to_string(),
                    label,
                }
            }
        };
        if record.label > 1 {
            return Err(bad(n, format!("label {} is not 0 or 1", record.label)));
        }
        if record.text.is_empty() {
            return Err(bad(n, "empty text".into()));
        }
        out.push(record);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_round_trip_in_both_formats() -> Result<()> {
        let texts = ["(^_^)", " a\"b\\c ", "¯\\_(ツ)_/¯"];
        for format in [Format::Jsonl, Format::Tsv] {
            let mut buf = Vec::new();
            for (i, t) in texts.iter().enumerate() {
                write_record(&mut buf, format, t, i % 2 == 0).map_err(|source| Error::Io {
                    path: "mem".into(),
                    source,
                })?;
            }
            let recs = parse_records(Path::new("mem"), &buf, format)?;
            assert_eq!(recs.len(), 3);
            for (i, r) in recs.iter().enumerate() {
                assert_eq!(r.text, texts[i]);
                assert_eq!(r.label, u8::from(i % 2 == 0));
            }
        }
        Ok(())
    }

    #[test]
    fn bad_lines_are_named() {
        let p = Path::new("d.tsv");
        let err = parse_records(p, b"1\t(^_^)\n\xff\xfe\n", Format::Tsv).unwrap_err();
        assert!(err.to_string().contains("d.tsv:2: invalid UTF-8"), "{err}");
        let err = parse_records(p, b"2\tx\n", Format::Tsv).unwrap_err();
        assert!(err.to_string().contains("not 0 or 1"), "{err}");
        let err = parse_records(p, b"{\"text\":\"x\"}\n", Format::Jsonl).unwrap_err();
        assert!(err.to_string().contains("d.tsv:1"), "{err}");
    }

    #[test]
    fn atomic_write_leaves_nothing_on_failure() -> Result<()> {
        let dir = std::env::temp_dir().join(format!("face-data-io-{}", std::process::id()));
        std::fs::create_dir_all(&dir).map_err(|source| Error::Io {
            path: dir.clone(),
            source,
        })?;
        let path = dir.join("out.txt");
        write_atomic(&path, |w| w.write_all(b"first"))?;
        let failed = write_atomic(&path, |w| {
            w.write_all(b"partial")?;
            Err(std::io::Error::other("interrupted"))
        });
        assert!(failed.is_err());
        assert_eq!(std::fs::read(&path).ok().as_deref(), Some(&b"first"[..]));
        let leftovers = std::fs::read_dir(&dir)
            .map_err(|source| Error::Io {
                path: dir.clone(),
                source,
            })?
            .count();
        assert_eq!(leftovers, 1, "the temporary file was removed");
        let _ = std::fs::remove_dir_all(&dir);
        Ok(())
    }
}

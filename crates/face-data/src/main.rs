//! `face-data`: print the charset and faces, sample datasets, check labelled files.
//!
//! Exit codes: 0 success; 1 `check` found label mismatches; 2 bad input or usage.

use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, Result, bail};
use clap::{Parser, Subcommand, ValueEnum};
use face_data::io::{Format, parse_records, sniff_format, write_atomic, write_record};
use face_data::{FacePool, FaceSplit, GenConfig, Generator, Task, Vocab, faces};

#[derive(Parser)]
#[command(
    name = "face-data",
    version,
    about = "ASCII-face catalogue and seeded datasets"
)]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Clone, Copy, ValueEnum)]
enum FacesFormat {
    Json,
    Tsv,
}

#[derive(Clone, Copy, ValueEnum)]
enum PoolArg {
    /// All catalogue faces (the seed).
    All,
    /// Faces not held out by the face split.
    Train,
    /// Only the held-out faces.
    HeldOut,
}

#[derive(Subcommand)]
enum Cmd {
    /// Print the face charset (sorted unique characters of the canonical catalogue) on one line.
    Charset,
    /// Print the catalogue: name, canonical face, and the face as written in the seed.
    Faces {
        #[arg(long, value_enum, default_value = "tsv")]
        format: FacesFormat,
    },
    /// Generate a dataset, one example per line.
    Sample {
        #[arg(long, value_enum, default_value = "seed")]
        task: Task,
        /// Number of examples (at least 1).
        #[arg(long)]
        n: usize,
        /// Seed: the same seed gives the same output.
        #[arg(long, default_value_t = 0)]
        seed: u64,
        /// Probability of a positive, in [0, 1].
        #[arg(long, default_value_t = 0.5, allow_negative_numbers = true)]
        face_prob: f64,
        /// Context length: longest embedded string; at least the longest face (12).
        #[arg(long, default_value_t = 12)]
        n_ctx: usize,
        #[arg(long, value_enum, default_value = "jsonl")]
        format: Format,
        /// Which faces positives use.
        #[arg(long, value_enum, default_value = "all")]
        faces: PoolArg,
        /// Fraction of unique faces held out (with --faces train|held-out).
        #[arg(long, default_value_t = 0.2, allow_negative_numbers = true)]
        held_out_frac: f64,
        /// Seed of the held-out face split.
        #[arg(long, default_value_t = 0)]
        split_seed: u64,
        /// Write to this file (atomically) instead of stdout.
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// Verify every label of a JSONL or TSV dataset against contains_face, and count
    /// characters outside the charset. Exit code 1 if any label is wrong.
    Check {
        /// The dataset file (`-` for stdin).
        file: PathBuf,
        /// Format; guessed from the extension or the first line when absent.
        #[arg(long, value_enum)]
        format: Option<Format>,
    },
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) if !e.use_stderr() => {
            // --help and --version.
            let _ = e.print();
            return ExitCode::SUCCESS;
        }
        Err(e) => {
            eprintln!("{}", face_data::cli::clap_error_line(&e));
            return ExitCode::from(2);
        }
    };
    match run(cli) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(2)
        }
    }
}

fn run(cli: Cli) -> Result<ExitCode> {
    match cli.cmd {
        Cmd::Charset => {
            let s: String = faces().charset().iter().collect();
            println!("{s}");
        }
        Cmd::Faces { format } => print_faces(format)?,
        Cmd::Sample {
            task,
            n,
            seed,
            face_prob,
            n_ctx,
            format,
            faces: pool,
            held_out_frac,
            split_seed,
            out,
        } => {
            if n == 0 {
                bail!("--n 0: nothing to generate; ask for at least 1 example");
            }
            let cfg = GenConfig {
                task,
                face_prob,
                n_ctx,
                ..GenConfig::default()
            };
            let split = match pool {
                PoolArg::All => FaceSplit::none(),
                _ => FaceSplit::new(held_out_frac, split_seed)?,
            };
            let pool = match pool {
                PoolArg::All => FacePool::All,
                PoolArg::Train => FacePool::Train(&split),
                PoolArg::HeldOut => FacePool::HeldOut(&split),
            };
            let mut g = Generator::new(&cfg, pool, seed)?;
            let emit = |w: &mut dyn Write, g: &mut Generator| -> std::io::Result<()> {
                for ex in g.take(n) {
                    write_record(w, format, &ex.text, ex.label)?;
                }
                w.flush()
            };
            match &out {
                Some(path) => write_atomic(path, |w| emit(w, &mut g))?,
                None => {
                    let stdout = std::io::stdout();
                    let mut w = BufWriter::with_capacity(1 << 16, stdout.lock());
                    if let Err(e) = emit(&mut w, &mut g) {
                        // A closed pipe (`| head`) is not an error worth a message.
                        if e.kind() != std::io::ErrorKind::BrokenPipe {
                            return Err(e).context("writing to stdout");
                        }
                    }
                }
            }
            let st = g.stats();
            eprintln!(
                "generated {n} examples ({} positive, {} negative); {} random negatives contained a face and were re-drawn",
                st.positives, st.negatives, st.redrawn_negatives
            );
        }
        Cmd::Check { file, format } => return check(&file, format),
    }
    Ok(ExitCode::SUCCESS)
}

fn print_faces(format: FacesFormat) -> Result<()> {
    let f = faces();
    let mut w = BufWriter::new(std::io::stdout().lock());
    match format {
        FacesFormat::Tsv => {
            writeln!(w, "name\tcanonical\traw")?;
            for ((name, canon), (_, raw)) in f.named().iter().zip(face_data::CATALOGUE.iter()) {
                writeln!(w, "{name}\t{canon}\t{raw}")?;
            }
        }
        FacesFormat::Json => {
            let rows: Vec<serde_json::Value> = f
                .named()
                .iter()
                .zip(face_data::CATALOGUE.iter())
                .map(|((name, canon), (_, raw))| {
                    serde_json::json!({"name": name, "face": canon, "raw": raw})
                })
                .collect();
            serde_json::to_writer_pretty(&mut w, &rows)?;
            writeln!(w)?;
        }
    }
    w.flush()?;
    Ok(())
}

fn check(file: &Path, format: Option<Format>) -> Result<ExitCode> {
    let bytes = if file == Path::new("-") {
        let mut buf = Vec::new();
        std::io::Read::read_to_end(&mut std::io::stdin(), &mut buf).context("reading stdin")?;
        buf
    } else {
        std::fs::read(file)
            .with_context(|| format!("cannot read {}; check the path", file.display()))?
    };
    let format = format.unwrap_or_else(|| sniff_format(file, &bytes));
    let records = parse_records(file, &bytes, format)?;
    let vocab = Vocab::faces();
    let (mut false_pos, mut false_neg, mut oov_chars, mut oov_lines, mut positives) =
        (0usize, 0usize, 0usize, 0usize, 0usize);
    for r in &records {
        let truth = faces().contains_face(&r.text);
        positives += usize::from(r.label == 1);
        match (r.label == 1, truth) {
            (true, false) => false_pos += 1,
            (false, true) => false_neg += 1,
            _ => {}
        }
        let oov = r.text.chars().filter(|&c| !vocab.contains(c)).count();
        oov_chars += oov;
        oov_lines += usize::from(oov > 0);
    }
    println!(
        "{}: {} examples ({} labelled positive); label mismatches: {} ({} labelled 1 without a face, {} labelled 0 with a face); out-of-charset characters: {} on {} lines",
        file.display(),
        records.len(),
        positives,
        false_pos + false_neg,
        false_pos,
        false_neg,
        oov_chars,
        oov_lines
    );
    Ok(if false_pos + false_neg == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

//! `face-interp`: the main job (train if needed, analyse, write the report), and the
//! `report`, `predict` and `explain` tools. Errors are one line on stderr; exit code 2
//! for anything the user can fix.

use std::io::{IsTerminal, Read, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

use anyhow::Context;
use clap::{Parser, Subcommand, ValueEnum};
use face_data::PadSide;
use face_interp::report::{AnalyseOptions, analyse, write};
use face_interp::{Error, predict};
use face_model::{RawModel, Weights};
use face_train::config::{DEFAULT_PATH, DEFAULT_TOML};
use face_train::renderer::Display;
use face_train::{DeviceChoice, TrainConfig, TrainOptions};

const DEFAULT_RUN: &str = "artifacts/runs/default";

#[derive(Parser, Debug)]
#[command(
    name = "face-interp",
    version,
    about = "Take the face classifier apart. With no command: the main job — train \
             artifacts/runs/default with configs/default.toml if it holds no trained model, \
             then write its report and print the report's path."
)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Clone, Copy, Debug, ValueEnum)]
enum Pad {
    Left,
    Right,
}

impl From<Pad> for PadSide {
    fn from(p: Pad) -> PadSide {
        match p {
            Pad::Left => PadSide::Left,
            Pad::Right => PadSide::Right,
        }
    }
}

#[derive(Clone, Copy, Debug, ValueEnum)]
enum Format {
    Tsv,
    Jsonl,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Analyse a run and write RUN/report/{index.html, report.json, report.md}.
    Report {
        /// The run directory.
        #[arg(long, default_value = DEFAULT_RUN)]
        run: PathBuf,
        /// Strings per generated evaluation slice.
        #[arg(long, default_value_t = 4000)]
        slice_size: usize,
        /// Seed of the evaluation slices.
        #[arg(long, default_value_t = 1)]
        seed: u64,
    },
    /// Predict every line of FILE (or stdin, `-`): `probability<TAB>0|1<TAB>text`, in
    /// input order, with the raw f32 evaluator. Lines are canonicalised first; lines
    /// longer than n_ctx characters are scanned with an n_ctx-character window at every
    /// offset and get the highest window probability. Unknown characters map to UNK and
    /// are counted on stderr.
    Predict {
        /// The run directory.
        #[arg(long, default_value = DEFAULT_RUN)]
        run: PathBuf,
        /// Input file, one string per line; `-` for stdin.
        #[arg(default_value = "-")]
        input: PathBuf,
        /// Output format.
        #[arg(long, value_enum, default_value_t = Format::Tsv)]
        format: Format,
        /// Side to pad strings shorter than n_ctx on (training padded both ways).
        #[arg(long, value_enum, default_value_t = Pad::Left)]
        pad: Pad,
    },
    /// Explain one string: the prediction and, per position, the character, its attention
    /// row (shaded) and its exact contribution to the logit.
    Explain {
        /// The run directory.
        #[arg(long, default_value = DEFAULT_RUN)]
        run: PathBuf,
        /// The string (may start with `-`).
        #[arg(allow_hyphen_values = true)]
        text: String,
        /// Side to pad on.
        #[arg(long, value_enum, default_value_t = Pad::Left)]
        pad: Pad,
    },
}

fn load(run: &Path) -> anyhow::Result<face_train::LoadedRun> {
    let r = face_train::load_run(run, &face_model::device::flex()).map_err(Error::from)?;
    if !r.complete {
        eprintln!(
            "notice: {} is unfinished; using its last checkpoint (epoch {})",
            run.display(),
            r.epoch
        );
    }
    Ok(r)
}

fn report_cmd(run: &Path, opts: &AnalyseOptions) -> anyhow::Result<()> {
    let t = Instant::now();
    let loaded = load(run)?;
    let report = analyse(&loaded, run, opts)?;
    let path = write(&report, run)?;
    for c in &report.conclusions {
        println!("- {} (§{})", c.text, c.section);
    }
    eprintln!("report written in {:.2} s", t.elapsed().as_secs_f64());
    println!("{}", path.display());
    Ok(())
}

fn main_job() -> anyhow::Result<()> {
    let run = PathBuf::from(DEFAULT_RUN);
    let ready = face_train::load_run(&run, &face_model::device::flex())
        .map(|r| r.complete)
        .unwrap_or(false);
    if !ready {
        let cfg = if Path::new(DEFAULT_PATH).is_file() {
            TrainConfig::load(Path::new(DEFAULT_PATH), &[])?
        } else {
            TrainConfig::from_toml(DEFAULT_TOML, "built-in default.toml", &[])?
        };
        let display = if std::io::stdout().is_terminal() && cfg!(feature = "tui") {
            Display::Tui
        } else {
            Display::Lines
        };
        let mut opts = TrainOptions::new(&run);
        opts.device = DeviceChoice::Auto;
        opts.display = display;
        opts.resume = run.join("run.json").is_file();
        println!(
            "no trained model in {}: training it with {DEFAULT_PATH}",
            run.display()
        );
        if let Some(n) = face_train::device::choose(opts.device)
            .map_err(Error::from)?
            .notice
        {
            eprintln!("notice: {n}");
        }
        let o = face_train::train(&cfg, &opts).map_err(Error::from)?;
        if let Some(t) = &o.metrics.test {
            println!(
                "trained: test accuracy {:.2}% in {:.1} s on {} ({})",
                100.0 * t.accuracy,
                o.metrics.wall_s,
                o.metrics.device.backend,
                o.metrics.device.name
            );
        }
    }
    report_cmd(&run, &AnalyseOptions::default())
}

fn predict_cmd(run: &Path, input: &Path, format: Format, pad: Pad) -> anyhow::Result<()> {
    let loaded = load(run)?;
    let ck = &loaded.checkpoint;
    let raw = RawModel::new(&ck.config, Weights::from_model(&ck.model));
    let (bytes, source) = if input == Path::new("-") {
        let mut b = Vec::new();
        std::io::stdin()
            .read_to_end(&mut b)
            .context("reading stdin")?;
        (b, "stdin".to_string())
    } else {
        let b = std::fs::read(input).map_err(|e| Error::Io {
            path: input.to_path_buf(),
            source: e,
        })?;
        (b, input.display().to_string())
    };
    let lines = predict::lines(&bytes, &source)?;
    let p = predict::predict(&raw, &ck.vocab, &lines, pad.into())?;
    let bytes = predict::format(&lines, &p.logits, matches!(format, Format::Jsonl));
    let stdout = std::io::stdout();
    let mut w = stdout.lock();
    w.write_all(&bytes).context("writing the output")?;
    w.flush().context("writing the output")?;
    if p.unknown > 0 || p.windowed > 0 {
        eprintln!(
            "{} lines: {} unknown character(s) mapped to UNK, {} line(s) longer than n_ctx scanned with windows",
            lines.len(),
            p.unknown,
            p.windowed
        );
    }
    Ok(())
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(c) => c,
        Err(e) if !e.use_stderr() => e.exit(),
        Err(e) => {
            eprintln!("{}", face_data::cli::clap_error_line(&e));
            return ExitCode::from(2);
        }
    };
    let result = match cli.command {
        None => main_job(),
        Some(Command::Report {
            run,
            slice_size,
            seed,
        }) => {
            if slice_size == 0 {
                Err(anyhow::Error::new(Error::Input(
                    "--slice-size must be at least 1".into(),
                )))
            } else {
                report_cmd(
                    &run,
                    &AnalyseOptions {
                        slice_size,
                        seed,
                        ..AnalyseOptions::default()
                    },
                )
            }
        }
        Some(Command::Predict {
            run,
            input,
            format,
            pad,
        }) => predict_cmd(&run, &input, format, pad),
        Some(Command::Explain { run, text, pad }) => load(&run).and_then(|l| {
            let ck = &l.checkpoint;
            let raw = RawModel::new(&ck.config, Weights::from_model(&ck.model));
            let s = face_interp::explain::explain(&raw, &ck.vocab, &text, pad.into())?;
            print!("{s}");
            Ok(())
        }),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            let usage = e.downcast_ref::<Error>().is_some_and(Error::is_usage)
                || e.downcast_ref::<face_train::Error>()
                    .is_some_and(face_train::Error::is_usage);
            eprintln!("error: {}", format!("{e:#}").replace('\n', " "));
            ExitCode::from(if usage { 2 } else { 1 })
        }
    }
}

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
const SEEDS_ROOT: &str = "artifacts/seeds";
/// Seeds in the main job's sweep.
const MAIN_SEEDS: usize = 5;

#[derive(Parser, Debug)]
#[command(
    name = "face-interp",
    version,
    about = "Take the face classifier apart. With no command: the main job — train \
             artifacts/runs/default with configs/default.toml if it holds no trained model, \
             run a 5-seed sweep of that config if there is none (artifacts/seeds/default), \
             then write the report and print its path."
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

/// Attribution methods for `explain --method`.
#[derive(Clone, Copy, Debug, ValueEnum)]
enum AttrMethod {
    /// Integrated gradients from the PAD embedding (32 steps, logit target).
    Ig,
    /// Integrated gradients from the mean character embedding.
    IgMean,
    /// Gradient norm per position.
    Saliency,
    /// Input × gradient.
    InputXGradient,
    /// Logit change when the position's character is replaced by PAD.
    Occlusion,
    /// Logit change when the position's embedding is zeroed (the reference).
    Exact,
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
    /// Train CONFIG under N seeds (config seed, +1, …) on the CPU, in parallel where the
    /// cores allow, repeat the report's analyses on each, and write OUT/seeds.json and
    /// OUT/seeds.md: which conclusions hold on every seed, the spread of each key
    /// figure, and the pairwise agreement of the extracted rules. Reports of runs with
    /// this config then mark each conclusion stable or not.
    Seeds {
        /// The config file.
        #[arg(long, default_value = DEFAULT_PATH)]
        config: PathBuf,
        /// Number of seeds.
        #[arg(long, default_value_t = MAIN_SEEDS)]
        n: usize,
        /// Output directory (default: artifacts/seeds/<config file stem>).
        #[arg(long)]
        out: Option<PathBuf>,
        /// Runs trained at once (default: the number of cores, at most N).
        #[arg(long)]
        parallel: Option<usize>,
        /// Retrain every seed in OUT from scratch, replacing what is there (needed when
        /// OUT holds runs of another config; without it finished runs are reused).
        #[arg(long)]
        overwrite: bool,
        /// Override a config field, e.g. `--set train.epochs=5` (repeatable).
        #[arg(long = "set", value_name = "SECTION.FIELD=VALUE")]
        set: Vec<String>,
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
        /// Add a column with this attribution method's per-position score.
        #[arg(long, value_enum)]
        method: Option<AttrMethod>,
    },
    /// Activation patching for one pair: run CORRUPT with CLEAN's activation at one site
    /// and position, for every site and position, and print the normalised effect
    /// (patched − corrupt) / (clean − corrupt) on the logit.
    Patch {
        /// The run directory.
        #[arg(long, default_value = DEFAULT_RUN)]
        run: PathBuf,
        /// The clean string.
        #[arg(allow_hyphen_values = true)]
        clean: String,
        /// The corrupted string.
        #[arg(allow_hyphen_values = true)]
        corrupt: String,
        /// Side to pad both on.
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
        let mark = c.stability.as_ref().map_or(String::new(), |s| {
            format!(" [{}]", face_interp::report::stability_label(s))
        });
        println!("- {} (§{}){mark}", c.text, c.section);
    }
    eprintln!("report written in {:.2} s", t.elapsed().as_secs_f64());
    println!("{}", path.display());
    Ok(())
}

fn seeds_cmd(
    cfg: &TrainConfig,
    out: &Path,
    n: usize,
    parallel: Option<usize>,
    overwrite: bool,
) -> anyhow::Result<face_interp::seeds::SweepSummary> {
    let t = Instant::now();
    if n == 0 || n > face_interp::seeds::MAX_SEEDS {
        return Err(Error::Input(format!(
            "--n must be between 1 and {}, not {n}",
            face_interp::seeds::MAX_SEEDS
        ))
        .into());
    }
    cfg.validate()
        .map_err(|m| Error::Input(format!("config: {m}")))?;
    let mut o = face_interp::seeds::SweepOptions::new(n, out);
    if let Some(p) = parallel {
        if p == 0 {
            return Err(Error::Input("--parallel must be at least 1".into()).into());
        }
        o.parallel = p.min(n);
    }
    o.overwrite = overwrite;
    eprintln!(
        "seed sweep: {n} seeds from seed {} into {} ({} at once, CPU)",
        cfg.seed,
        out.display(),
        o.parallel
    );
    let s = face_interp::seeds::sweep(cfg, &o)?;
    let stable = s.conclusions.iter().filter(|c| c.stable).count();
    eprintln!(
        "seed sweep done in {:.1} s: {stable} of {} conclusions stable; rules agree pairwise on at least {:.2}% of {} strings",
        t.elapsed().as_secs_f64(),
        s.conclusions.len(),
        100.0 * s.min_rule_agreement,
        s.common_n
    );
    Ok(s)
}

fn load_config(path: &Path, set: &[String]) -> anyhow::Result<TrainConfig> {
    if path == Path::new(DEFAULT_PATH) && !path.is_file() {
        return Ok(TrainConfig::from_toml(
            DEFAULT_TOML,
            "built-in default.toml",
            set,
        )?);
    }
    Ok(TrainConfig::load(path, set)?)
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
        let o = face_train::train(&cfg, &opts).map_err(|e| match e {
            // face-interp has no --overwrite: point at the command that has.
            face_train::Error::RunDir { path, message } => Error::from(face_train::Error::RunDir {
                message: format!(
                    "{message} (with `cargo run --release -p face-train -- --out {}`)",
                    path.display()
                ),
                path,
            }),
            other => Error::from(other),
        })?;
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
    let cfg = face_train::load_run(&run, &face_model::device::flex())
        .map_err(Error::from)?
        .config;
    if face_interp::seeds::find(Path::new(SEEDS_ROOT), &cfg).is_none() {
        println!("no seed sweep of this config in {SEEDS_ROOT}: running {MAIN_SEEDS} seeds");
        let out = Path::new(SEEDS_ROOT).join("default");
        seeds_cmd(&cfg, &out, MAIN_SEEDS, None, false).map_err(|e| {
            // The main job has no --overwrite: point at the command that has.
            if e
                .downcast_ref::<Error>()
                .is_some_and(|x| matches!(x, Error::Train(face_train::Error::RunDir { .. })))
            {
                e.context(format!(
                    "{} holds seed runs of another config; replace them with `cargo run --release -p face-interp -- seeds --out {} --overwrite`",
                    out.display(),
                    out.display()
                ))
            } else {
                e
            }
        })?;
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

fn patch_cmd(
    run: &face_train::LoadedRun,
    clean: &str,
    corrupt: &str,
    side: PadSide,
) -> anyhow::Result<()> {
    let ck = &run.checkpoint;
    let n_ctx = ck.config.n_ctx;
    let enc = |s: &str| -> anyhow::Result<Vec<u32>> {
        let c = face_data::canonicalize(s);
        Ok(ck
            .vocab
            .encode_padded(&c, n_ctx, side)
            .map_err(|e| Error::Input(format!("{s:?}: {e}")))?
            .ids)
    };
    let (a, b) = (enc(clean)?, enc(corrupt)?);
    let eff = face_interp::causal::patching(&ck.model, &a, &b);
    let raw = RawModel::new(&ck.config, Weights::from_model(&ck.model));
    println!(
        "clean {clean:?}: logit {:+.4}   corrupt {corrupt:?}: logit {:+.4}",
        raw.logit(&a),
        raw.logit(&b)
    );
    println!("normalised effect (patched − corrupt)/(clean − corrupt) per site and position:");
    let tok = |id: u32| match id {
        0 => "·".to_string(),
        _ => ck.vocab.token_str(id),
    };
    print!("{:<32}", "site \\ position (clean/corrupt)");
    for p in 0..n_ctx {
        print!(" {:>7}", format!("{}/{}", tok(a[p]), tok(b[p])));
    }
    println!();
    for (s, site) in face_interp::causal::SITES.iter().enumerate() {
        print!("{:<32}", site.as_str());
        for per_pair in &eff[s] {
            print!(" {:>+7.3}", per_pair.first().copied().unwrap_or(f64::NAN));
        }
        println!();
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
        Some(Command::Seeds {
            config,
            n,
            out,
            parallel,
            overwrite,
            set,
        }) => load_config(&config, &set).and_then(|cfg| {
            let stem = config
                .file_stem()
                .map_or_else(|| "sweep".into(), |s| s.to_string_lossy().into_owned());
            let out = out.unwrap_or_else(|| Path::new(SEEDS_ROOT).join(stem));
            let s = seeds_cmd(&cfg, &out, n, parallel, overwrite)?;
            print!("{}", face_interp::seeds::markdown(&s));
            println!("{}", out.join("seeds.json").display());
            Ok(())
        }),
        Some(Command::Explain {
            run,
            text,
            pad,
            method,
        }) => load(&run).and_then(|l| {
            let ck = &l.checkpoint;
            let raw = RawModel::new(&ck.config, Weights::from_model(&ck.model));
            let model = &ck.model;
            let attr = move |row: &[u32]| -> (String, Vec<f64>) {
                use face_interp::attribution as a;
                let first = |v: Vec<Vec<f64>>| v.into_iter().next().unwrap_or_default();
                match method {
                    Some(AttrMethod::Ig) => (
                        "ig (PAD baseline)".into(),
                        first(a::integrated_gradients(model, row, a::Baseline::Pad, 32).0),
                    ),
                    Some(AttrMethod::IgMean) => (
                        "ig (mean baseline)".into(),
                        first(a::integrated_gradients(model, row, a::Baseline::Mean, 32).0),
                    ),
                    Some(AttrMethod::Saliency) => {
                        ("saliency".into(), first(a::gradient_methods(model, row).0))
                    }
                    Some(AttrMethod::InputXGradient) => (
                        "input x gradient".into(),
                        first(a::gradient_methods(model, row).1),
                    ),
                    Some(AttrMethod::Occlusion) => {
                        ("occlusion".into(), first(a::occlusion(model, row)))
                    }
                    Some(AttrMethod::Exact) | None => (
                        "exact (embedding zeroed)".into(),
                        first(a::exact_ablation(model, row)),
                    ),
                }
            };
            let s = face_interp::explain::explain(
                &raw,
                &ck.vocab,
                &text,
                pad.into(),
                method
                    .is_some()
                    .then_some(&attr as face_interp::explain::AttributionFn<'_>),
            )?;
            print!("{s}");
            Ok(())
        }),
        Some(Command::Patch {
            run,
            clean,
            corrupt,
            pad,
        }) => load(&run).and_then(|l| patch_cmd(&l, &clean, &corrupt, pad.into())),
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

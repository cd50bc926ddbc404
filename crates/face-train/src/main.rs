//! `face-train`: train the face classifier (default), or measure training throughput
//! (`bench`). Errors are one line on stderr; exit code 2 for anything the user can fix.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;
use clap::{Args, Parser, Subcommand};
use face_train::device::{DeviceChoice, choose};
use face_train::renderer::Display;
use face_train::{Status, TrainConfig, TrainOptions};

use face_train::config::{DEFAULT_PATH as DEFAULT_CONFIG_PATH, DEFAULT_TOML as DEFAULT_CONFIG};

#[derive(Parser, Debug)]
#[command(
    name = "face-train",
    version,
    about = "Train the ASCII-face attention classifier with burn-train's Learner.",
    long_about = "Train the ASCII-face attention classifier with burn-train's Learner.\n\n\
        With no subcommand, trains the config (default configs/default.toml) into a run \
        directory (default artifacts/runs/<config name>): config.toml, run.json, \
        metrics.json, per-epoch checkpoints and the final model/. Progress: the Learner's \
        dashboard in a terminal, one line per epoch and split otherwise.",
    args_conflicts_with_subcommands = true
)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
    #[command(flatten)]
    train: TrainArgs,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Samples/s through the Learner and for the bare train step, at each batch size.
    Bench(BenchArgs),
}

#[derive(Args, Debug, Clone)]
struct ConfigArgs {
    /// Config file (TOML). Default: configs/default.toml (a built-in copy when the file is
    /// not there).
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
    /// Override a config field, e.g. `--set train.epochs=5` or `--set data.task=embedded`.
    /// Repeatable; applied after the file, before validation.
    #[arg(long = "set", value_name = "FIELD=VALUE")]
    set: Vec<String>,
    /// Shorthand for `--set seed=N`.
    #[arg(long)]
    seed: Option<u64>,
    /// Shorthand for `--set train.epochs=N`.
    #[arg(long)]
    epochs: Option<usize>,
    /// Shorthand for `--set train.batch_size=N`.
    #[arg(long)]
    batch_size: Option<usize>,
    /// Shorthand for `--set train.learning_rate=X`.
    #[arg(long)]
    lr: Option<f64>,
    /// `auto`: a hardware GPU through wgpu when there is one, else the CPU (Flex).
    /// `gpu`: wgpu even on a software adapter. `cpu`: Flex.
    #[arg(long, value_enum, default_value_t = DeviceChoice::Auto)]
    device: DeviceChoice,
}

#[derive(Args, Debug)]
struct TrainArgs {
    #[command(flatten)]
    config: ConfigArgs,
    /// Run directory. Default: artifacts/runs/<config file name without .toml>.
    #[arg(long, value_name = "DIR")]
    out: Option<PathBuf>,
    /// Continue the run in --out from its last complete epoch (its config must match).
    #[arg(long, conflicts_with = "overwrite")]
    resume: bool,
    /// Replace the run in --out.
    #[arg(long)]
    overwrite: bool,
    /// Stop as epoch N starts, after N−1 is checkpointed (a clean stand-in for a kill).
    #[arg(long, value_name = "N", hide = true)]
    stop_before_epoch: Option<usize>,
}

#[derive(Args, Debug)]
struct BenchArgs {
    #[command(flatten)]
    config: ConfigArgs,
    /// Steps timed per batch size.
    #[arg(long, default_value_t = 300)]
    steps: usize,
    /// Batch sizes, comma-separated.
    #[arg(long, value_delimiter = ',', default_value = "64,256")]
    batch_sizes: Vec<usize>,
    /// Also write the figures as JSON here.
    #[arg(long, value_name = "FILE")]
    json: Option<PathBuf>,
}

impl ConfigArgs {
    /// The config, its display name and its stem.
    fn load(&self) -> anyhow::Result<(TrainConfig, String)> {
        let mut sets = self.set.clone();
        if let Some(s) = self.seed {
            sets.push(format!("seed={s}"));
        }
        if let Some(e) = self.epochs {
            sets.push(format!("train.epochs={e}"));
        }
        if let Some(b) = self.batch_size {
            sets.push(format!("train.batch_size={b}"));
        }
        if let Some(lr) = self.lr {
            sets.push(format!("train.learning_rate={lr}"));
        }
        match &self.config {
            Some(p) => Ok((TrainConfig::load(p, &sets)?, stem(p))),
            None if Path::new(DEFAULT_CONFIG_PATH).is_file() => {
                let p = Path::new(DEFAULT_CONFIG_PATH);
                Ok((TrainConfig::load(p, &sets)?, stem(p)))
            }
            None => Ok((
                TrainConfig::from_toml(DEFAULT_CONFIG, "built-in default.toml", &sets)?,
                "default".into(),
            )),
        }
    }
}

fn stem(p: &Path) -> String {
    p.file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| "run".into())
}

fn pct(x: f64) -> String {
    format!("{:.2}%", 100.0 * x)
}

fn train(args: &TrainArgs) -> anyhow::Result<()> {
    let (cfg, name) = args.config.load()?;
    let out = args
        .out
        .clone()
        .unwrap_or_else(|| PathBuf::from("artifacts/runs").join(&name));
    let tty = std::io::stdout().is_terminal();
    let display = if tty && cfg!(feature = "tui") {
        Display::Tui
    } else {
        Display::Lines
    };
    let opts = TrainOptions {
        out: out.clone(),
        device: args.config.device,
        resume: args.resume,
        overwrite: args.overwrite,
        display,
        stop_before_epoch: args.stop_before_epoch,
    };
    if display == Display::Lines {
        println!(
            "training {name} ({} epochs, batch {}, {} examples) into {}",
            cfg.train.epochs,
            cfg.train.batch_size,
            cfg.data.n_examples,
            out.display()
        );
    }
    // Say which device before training (choose() probes once; train() reuses it).
    if let Some(n) = face_train::device::choose(args.config.device)?.notice {
        eprintln!("notice: {n}");
    }
    let outcome = face_train::train(&cfg, &opts)?;
    let m = &outcome.metrics;
    let dev = format!("{} ({})", m.device.backend, m.device.name);
    if outcome.already_complete {
        println!(
            "{} already holds this run, complete; nothing to do (--overwrite retrains)",
            out.display()
        );
    }
    match (outcome.status, &m.test) {
        (Status::Complete, Some(t)) => println!(
            "done: test accuracy {} (n={}), loss {:.3e}, precision {}, recall {}; {} epochs in {:.1} s on {dev}; run in {}",
            pct(t.accuracy),
            t.n,
            t.loss,
            pct(t.precision),
            pct(t.recall),
            cfg.train.epochs,
            m.wall_s,
            outcome.dir.display()
        ),
        _ => println!(
            "stopped after epoch {} of {} ({:.1} s on {dev}); `--resume --out {}` continues",
            face_train::checkpointer::latest_complete(&outcome.dir.join("checkpoint")).unwrap_or(0),
            cfg.train.epochs,
            m.wall_s,
            outcome.dir.display()
        ),
    }
    Ok(())
}

fn bench(args: &BenchArgs) -> anyhow::Result<()> {
    let (cfg, name) = args.config.load()?;
    if args.steps == 0 || args.batch_sizes.contains(&0) {
        anyhow::bail!(face_train::Error::Config {
            source_name: "bench".into(),
            message: "--steps and every --batch-sizes entry must be at least 1".into(),
        });
    }
    let chosen = choose(args.config.device)?;
    if let Some(n) = &chosen.notice {
        eprintln!("notice: {n}");
    }
    println!(
        "bench: {name} model (d_model {}, n_ctx {}, {} params) on {} ({}), {} steps per batch size",
        cfg.model.d_model,
        cfg.data.n_ctx,
        cfg.model_config().n_params(),
        chosen.info.backend,
        chosen.info.name,
        args.steps
    );
    let rows = face_train::bench::run(&cfg, &chosen, &args.batch_sizes, args.steps)?;
    println!(
        "{:>6} {:>14} {:>10} {:>14} {:>10} {:>9} {:>9} {:>9}",
        "batch",
        "learner smp/s",
        "ms/step",
        "bare smp/s",
        "bare ms",
        "batch ms",
        "fwd ms",
        "fwd+bwd"
    );
    for r in &rows {
        println!(
            "{:>6} {:>14.0} {:>10.3} {:>14.0} {:>10.3} {:>9.3} {:>9.3} {:>9.3}",
            r.batch_size,
            r.learner_samples_per_s,
            r.learner_step_ms,
            r.bare_samples_per_s,
            r.bare_step_ms,
            r.batch_ms,
            r.forward_ms,
            r.forward_backward_ms
        );
    }
    if let Some(path) = &args.json {
        let text = serde_json::to_string_pretty(&rows)?;
        face_data::io::write_atomic(path, |w| {
            use std::io::Write;
            w.write_all(text.as_bytes())
        })
        .with_context(|| format!("writing {}", path.display()))?;
    }
    Ok(())
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(c) => c,
        Err(e) if !e.use_stderr() => e.exit(), // --help, --version
        Err(e) => {
            eprintln!("{}", face_data::cli::clap_error_line(&e));
            return ExitCode::from(2);
        }
    };
    let result = match &cli.command {
        Some(Command::Bench(b)) => bench(b),
        None => train(&cli.train),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            let usage = e
                .downcast_ref::<face_train::Error>()
                .is_some_and(face_train::Error::is_usage);
            let msg = format!("{e:#}").replace('\n', " ");
            eprintln!("error: {msg}");
            ExitCode::from(if usage { 2 } else { 1 })
        }
    }
}

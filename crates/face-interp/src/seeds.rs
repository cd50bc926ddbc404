//! Seed sweeps (`face-interp seeds --config FILE --n N`): train one config under N seeds
//! on the CPU (in parallel where the cores allow), repeat the report's analyses on each,
//! and say which conclusions hold on every seed, how far each key figure spreads, and how
//! often the extracted rules of two seeds decide alike.
//!
//! The sweep is written to `OUT/seeds.json` and `OUT/seeds.md` (atomically), the runs to
//! `OUT/seed-<seed>/`. A report finds a sweep of its own config (any seed) under
//! `artifacts/seeds/` and marks each conclusion stable or not ([`find`], [`mark`]).

use std::path::{Path, PathBuf};
use std::time::Instant;

use face_model::{RawModel, Weights};
use face_train::config::TrainConfig;
use face_train::renderer::Display;
use face_train::{DeviceChoice, TrainOptions};
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::plot::fmt_precise as fmt_num;
use crate::report::{AnalyseOptions, Conclusion, Report, analyse};
use crate::rule::{AttentionRule, DEFAULT_WINDOW};
use crate::slices::{self, SliceSpec};

/// JSON has no NaN: serde_json writes `null`, read back here as NaN.
mod nan {
    use serde::{Deserialize, Deserializer};

    pub fn one<'de, D: Deserializer<'de>>(d: D) -> Result<f64, D::Error> {
        Ok(Option::<f64>::deserialize(d)?.unwrap_or(f64::NAN))
    }

    pub fn vec<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<f64>, D::Error> {
        Ok(Vec::<Option<f64>>::deserialize(d)?
            .into_iter()
            .map(|x| x.unwrap_or(f64::NAN))
            .collect())
    }

    pub fn matrix<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<Vec<f64>>, D::Error> {
        Ok(Vec::<Vec<Option<f64>>>::deserialize(d)?
            .into_iter()
            .map(|r| r.into_iter().map(|x| x.unwrap_or(f64::NAN)).collect())
            .collect())
    }
}

/// `seeds.json`'s format tag.
pub const SEEDS_FORMAT: &str = "face-seeds/1";

/// How a conclusion fares across a sweep.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Stability {
    /// Seeds on which the conclusion's verdict is the same as here.
    pub holds: usize,
    /// Seeds in the sweep.
    pub n: usize,
    /// `holds == n`.
    pub stable: bool,
    /// The other verdicts and their seeds, when not stable.
    pub otherwise: Vec<(u64, String)>,
}

/// One conclusion across the sweep.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct SeedConclusion {
    /// Its key.
    pub key: String,
    /// The verdict on each seed (same order as the seeds).
    pub verdicts: Vec<String>,
    /// Seeds whose verdict equals the first seed's.
    pub holds: usize,
    /// True when every seed gives the same verdict.
    pub stable: bool,
}

/// A key figure across the sweep.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct FigureSpread {
    /// The conclusion it belongs to.
    pub key: String,
    /// The figure.
    pub name: String,
    /// One value per seed.
    #[serde(deserialize_with = "nan::vec")]
    pub values: Vec<f64>,
    /// Mean.
    #[serde(deserialize_with = "nan::one")]
    pub mean: f64,
    /// Sample standard deviation.
    #[serde(deserialize_with = "nan::one")]
    pub sd: f64,
    /// Smallest.
    #[serde(deserialize_with = "nan::one")]
    pub min: f64,
    /// Largest.
    #[serde(deserialize_with = "nan::one")]
    pub max: f64,
}

/// A finished sweep: what `seeds.json` holds.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct SweepSummary {
    /// [`SEEDS_FORMAT`].
    pub format: String,
    /// The config, with the first seed.
    pub config: TrainConfig,
    /// The seeds.
    pub seeds: Vec<u64>,
    /// Their run directories.
    pub runs: Vec<String>,
    /// Test accuracy of each seed's model.
    #[serde(deserialize_with = "nan::vec")]
    pub test_accuracy: Vec<f64>,
    /// Every conclusion across the seeds.
    pub conclusions: Vec<SeedConclusion>,
    /// Every key figure across the seeds.
    pub figures: Vec<FigureSpread>,
    /// Strings in the common set the rules and models are compared on.
    pub common_n: usize,
    /// `[i][j]`: share of the common set where seed i's and seed j's extracted rules
    /// decide alike.
    #[serde(deserialize_with = "nan::matrix")]
    pub rule_agreement: Vec<Vec<f64>>,
    /// The same for the models themselves.
    #[serde(deserialize_with = "nan::matrix")]
    pub model_agreement: Vec<Vec<f64>>,
    /// Smallest off-diagonal entry of `rule_agreement` (1 with one seed).
    #[serde(deserialize_with = "nan::one")]
    pub min_rule_agreement: f64,
    /// Strings of the common set from the first seed's test split (the rest are slices).
    pub common_test_n: usize,
    /// Smallest pairwise rule agreement on those test strings alone.
    #[serde(deserialize_with = "nan::one")]
    pub min_rule_agreement_test: f64,
    /// Wall seconds (training and analyses).
    pub seconds: f64,
}

/// Sweep settings.
#[derive(Debug, Clone)]
pub struct SweepOptions {
    /// Seeds: `config.seed`, `config.seed + 1`, …
    pub n: usize,
    /// Output directory.
    pub out: PathBuf,
    /// Runs trained at once (at least 1).
    pub parallel: usize,
    /// Replace runs in `out` that hold a different config.
    pub overwrite: bool,
    /// The analyses repeated on each seed.
    pub analyse: AnalyseOptions,
    /// Strings per slice of the common set the rules are compared on.
    pub common_size: usize,
}

impl SweepOptions {
    /// Defaults: as many runs at once as cores (at most `n`), the report's analyses.
    pub fn new(n: usize, out: impl Into<PathBuf>) -> Self {
        let cores = std::thread::available_parallelism().map_or(1, |c| c.get());
        SweepOptions {
            n,
            out: out.into(),
            parallel: cores.min(n.max(1)),
            overwrite: false,
            analyse: AnalyseOptions {
                // A sweep's own analyses never look for sweeps.
                seeds_dir: Some(PathBuf::new()),
                ..AnalyseOptions::default()
            },
            common_size: 1000,
        }
    }
}

/// `12.34%`, or `n/a` when not finite.
fn pct(x: f64) -> String {
    if x.is_finite() {
        format!("{:.2}%", 100.0 * x)
    } else {
        "n/a".into()
    }
}

/// Most seeds in one sweep.
pub const MAX_SEEDS: usize = 1000;

fn spread(values: &[f64]) -> (f64, f64, f64, f64) {
    let n = values.len().max(1) as f64;
    let mean = values.iter().sum::<f64>() / n;
    let sd = if values.len() > 1 {
        (values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (n - 1.0)).sqrt()
    } else {
        0.0
    };
    let min = values.iter().copied().fold(f64::INFINITY, f64::min);
    let max = values.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    (mean, sd, min, max)
}

/// One worker's result, filled in when its seed is done.
type Slot = std::sync::Mutex<Option<Result<(Report, RawModel)>>>;

/// Trains one seed (or finds it trained) and analyses it.
fn one(cfg: &TrainConfig, dir: &Path, opts: &SweepOptions) -> Result<(Report, RawModel)> {
    let mut t = TrainOptions::new(dir);
    t.device = DeviceChoice::Cpu;
    t.display = Display::Quiet;
    t.overwrite = opts.overwrite;
    t.resume = dir.join("run.json").is_file() && !opts.overwrite;
    face_train::train(cfg, &t)?;
    let run = face_train::load_run(dir, &face_model::device::flex())?;
    let report = analyse(&run, dir, &opts.analyse)?;
    let ck = &run.checkpoint;
    Ok((
        report,
        RawModel::new(&ck.config, Weights::from_model(&ck.model)),
    ))
}

/// Runs the sweep and writes `seeds.json` and `seeds.md` into `opts.out`.
pub fn sweep(cfg: &TrainConfig, opts: &SweepOptions) -> Result<SweepSummary> {
    if opts.n == 0 || opts.n > MAX_SEEDS {
        return Err(Error::Input(format!(
            "--n must be between 1 and {MAX_SEEDS}, not {}",
            opts.n
        )));
    }
    if cfg.seed.checked_add(opts.n as u64 - 1).is_none() {
        return Err(Error::Input(format!(
            "seeds {} + {} overflow a 64-bit seed; choose a smaller config seed",
            cfg.seed,
            opts.n - 1
        )));
    }
    cfg.validate()
        .map_err(|m| Error::Input(format!("config: {m}")))?;
    let t0 = Instant::now();
    std::fs::create_dir_all(&opts.out).map_err(crate::error::io(&opts.out))?;
    let seeds: Vec<u64> = (0..opts.n as u64).map(|k| cfg.seed + k).collect();
    let dirs: Vec<PathBuf> = seeds
        .iter()
        .map(|s| opts.out.join(format!("seed-{s}")))
        .collect();
    let cfgs: Vec<TrainConfig> = seeds
        .iter()
        .map(|&s| TrainConfig {
            seed: s,
            ..cfg.clone()
        })
        .collect();
    // A simple work queue: `parallel` workers take the next seed until none is left.
    let next = std::sync::atomic::AtomicUsize::new(0);
    let slots: Vec<Slot> = (0..opts.n).map(|_| std::sync::Mutex::new(None)).collect();
    std::thread::scope(|s| {
        for _ in 0..opts.parallel.clamp(1, opts.n) {
            s.spawn(|| {
                loop {
                    let i = next.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                    if i >= opts.n {
                        break;
                    }
                    let r = one(&cfgs[i], &dirs[i], opts);
                    if let Ok(mut slot) = slots[i].lock() {
                        *slot = Some(r);
                    }
                }
            });
        }
    });
    let mut reports = Vec::with_capacity(opts.n);
    let mut raws = Vec::with_capacity(opts.n);
    for slot in slots {
        let r = slot
            .into_inner()
            .ok()
            .flatten()
            .ok_or_else(|| Error::Input("a sweep worker stopped without a result".into()))??;
        reports.push(r.0);
        raws.push(r.1);
    }

    // Conclusions and figures across the seeds, keyed by the first seed's conclusions.
    let mut conclusions = Vec::new();
    let mut figures = Vec::new();
    for c in &reports[0].conclusions {
        let verdicts: Vec<String> = reports
            .iter()
            .map(|r| {
                r.conclusions
                    .iter()
                    .find(|x| x.key == c.key)
                    .map_or_else(|| "(no such conclusion)".into(), |x| x.verdict.clone())
            })
            .collect();
        let holds = verdicts.iter().filter(|v| **v == verdicts[0]).count();
        conclusions.push(SeedConclusion {
            key: c.key.clone(),
            stable: holds == verdicts.len(),
            holds,
            verdicts,
        });
        for (name, _) in &c.figures {
            let values: Vec<f64> = reports
                .iter()
                .map(|r| {
                    r.conclusions
                        .iter()
                        .find(|x| x.key == c.key)
                        .and_then(|x| x.figures.iter().find(|(n, _)| n == name))
                        .map_or(f64::NAN, |(_, v)| *v)
                })
                .collect();
            let (mean, sd, min, max) = spread(&values);
            figures.push(FigureSpread {
                key: c.key.clone(),
                name: name.clone(),
                values,
                mean,
                sd,
                min,
                max,
            });
        }
    }

    // The rules (and models) of every pair of seeds on one common set: the first
    // seed's data and slices.
    let first = face_train::load_run(&dirs[0], &face_model::device::flex())?;
    let ck = &first.checkpoint;
    let splits = face_train::data::build(&ck.data, &ck.vocab)?;
    let spec = SliceSpec {
        generator: &ck.data.generator,
        padding: ck.data.padding,
        face_split: &splits.face_split,
        n: opts.common_size,
        seed: opts.analyse.seed,
    };
    let n_ctx = ck.config.n_ctx;
    let mut common: Vec<u32> = splits
        .test
        .ids
        .iter()
        .take(opts.common_size * n_ctx)
        .copied()
        .collect();
    let common_test_n = common.len() / n_ctx;
    for s in slices::generated(&spec)? {
        common.extend(s.encode(&ck.vocab, n_ctx)?.0);
    }
    let common_n = common.len() / n_ctx;
    let rules: Vec<Vec<bool>> = raws
        .iter()
        .map(|raw| {
            let rule = AttentionRule::from_raw(raw, DEFAULT_WINDOW);
            common.chunks(n_ctx).map(|r| rule.score(r) >= 0.0).collect()
        })
        .collect();
    let models: Vec<Vec<bool>> = raws
        .iter()
        .map(|raw| common.chunks(n_ctx).map(|r| raw.logit(r) >= 0.0).collect())
        .collect();
    let pairwise = |d: &[Vec<bool>]| -> Vec<Vec<f64>> {
        d.iter()
            .map(|a| {
                d.iter()
                    .map(|b| {
                        a.iter().zip(b).filter(|(x, y)| x == y).count() as f64
                            / a.len().max(1) as f64
                    })
                    .collect()
            })
            .collect()
    };
    let rule_agreement = pairwise(&rules);
    let test_only: Vec<Vec<bool>> = rules.iter().map(|r| r[..common_test_n].to_vec()).collect();
    let min_rule_agreement_test = pairwise(&test_only)
        .iter()
        .enumerate()
        .flat_map(|(i, row)| {
            row.iter()
                .enumerate()
                .filter(move |(j, _)| *j != i)
                .map(|(_, v)| *v)
        })
        .fold(1.0, f64::min);
    let model_agreement = pairwise(&models);
    let min_rule_agreement = (0..opts.n)
        .flat_map(|i| (0..opts.n).filter(move |&j| j != i).map(move |j| (i, j)))
        .map(|(i, j)| rule_agreement[i][j])
        .fold(1.0, f64::min);
    let min_rule_agreement_test = if common_test_n == 0 {
        f64::NAN
    } else {
        min_rule_agreement_test
    };
    let summary = SweepSummary {
        format: SEEDS_FORMAT.into(),
        config: cfg.clone(),
        test_accuracy: reports
            .iter()
            .map(|r| {
                r.slices
                    .iter()
                    .find(|s| s.name == "in_distribution")
                    .map_or(f64::NAN, |s| s.accuracy)
            })
            .collect(),
        seeds,
        runs: dirs.iter().map(|d| d.display().to_string()).collect(),
        conclusions,
        figures,
        common_n,
        rule_agreement,
        model_agreement,
        min_rule_agreement,
        common_test_n,
        min_rule_agreement_test,
        seconds: t0.elapsed().as_secs_f64(),
    };
    write(&summary, &opts.out)?;
    Ok(summary)
}

/// Writes `seeds.json` and `seeds.md` into `out`, each atomically.
pub fn write(s: &SweepSummary, out: &Path) -> Result<()> {
    let json = serde_json::to_string_pretty(s).map_err(|e| Error::Io {
        path: out.join("seeds.json"),
        source: std::io::Error::other(e),
    })?;
    for (name, text) in [("seeds.json", json), ("seeds.md", markdown(s))] {
        face_data::io::write_atomic(&out.join(name), |w| {
            use std::io::Write;
            w.write_all(text.as_bytes())
        })?;
    }
    Ok(())
}

/// The stability table: per conclusion, stable or not, on how many seeds, the verdict.
pub fn stability_table(s: &SweepSummary) -> ([&'static str; 4], Vec<Vec<String>>) {
    let rows = s
        .conclusions
        .iter()
        .map(|c| {
            vec![
                c.key.clone(),
                if c.stable { "stable" } else { "not stable" }.into(),
                format!("{}/{}", c.holds, c.verdicts.len()),
                c.verdicts.first().cloned().unwrap_or_default(),
            ]
        })
        .collect();
    (["conclusion", "", "holds", "verdict (first seed)"], rows)
}

/// The key figures across the seeds: spread and per-seed values.
pub fn figures_table(s: &SweepSummary) -> ([&'static str; 7], Vec<Vec<String>>) {
    let rows = s
        .figures
        .iter()
        .map(|f| {
            vec![
                f.key.clone(),
                f.name.clone(),
                fmt_num(f.mean),
                fmt_num(f.sd),
                fmt_num(f.min),
                fmt_num(f.max),
                f.values
                    .iter()
                    .map(|v| fmt_num(*v))
                    .collect::<Vec<_>>()
                    .join(" "),
            ]
        })
        .collect();
    (
        [
            "conclusion",
            "figure",
            "mean",
            "sd",
            "min",
            "max",
            "per seed",
        ],
        rows,
    )
}

/// Test accuracy of each seed, as `99.96%, 99.92%, …`.
pub fn accuracies(s: &SweepSummary) -> String {
    s.test_accuracy
        .iter()
        .map(|a| pct(*a))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The sweep as Markdown: the stability table, the figures, the pairwise agreement.
pub fn markdown(s: &SweepSummary) -> String {
    let mut md = crate::html::Markdown::new();
    md.heading(1, &format!("Seed sweep: {} seeds", s.seeds.len()));
    md.para(&format!(
        "Seeds {:?}; test accuracy per seed: {}. Wall time {:.1} s.",
        s.seeds,
        accuracies(s),
        s.seconds
    ));
    md.heading(2, "Conclusions");
    let (headers, rows) = stability_table(s);
    md.table(&headers, &rows);
    md.heading(2, "Key figures");
    let (headers, rows) = figures_table(s);
    md.table(&headers, &rows);
    md.heading(2, "Pairwise agreement of the extracted rules");
    md.para(&format!(
        "On {} common strings (the first seed's test split and slices): smallest {}; on the {} test strings alone: smallest {}.",
        s.common_n,
        pct(s.min_rule_agreement),
        s.common_test_n,
        pct(s.min_rule_agreement_test)
    ));
    let header: Vec<String> = std::iter::once("seed".to_string())
        .chain(s.seeds.iter().map(|x| x.to_string()))
        .collect();
    let headers: Vec<&str> = header.iter().map(String::as_str).collect();
    for (title, m) in [("rules", &s.rule_agreement), ("models", &s.model_agreement)] {
        md.para(&format!("{title}:"));
        let rows: Vec<Vec<String>> = m
            .iter()
            .zip(&s.seeds)
            .map(|(row, seed)| {
                std::iter::once(seed.to_string())
                    .chain(row.iter().map(|v| pct(*v)))
                    .collect()
            })
            .collect();
        md.table(&headers, &rows);
    }
    md.render()
}

/// The sweep under `dir` (one subdirectory per sweep) of `config` with any seed: the same
/// config apart from the seed, and `config.seed` among the sweep's seeds. `None` when
/// there is none (or `dir` is empty or unreadable).
pub fn find(dir: &Path, config: &TrainConfig) -> Option<SweepSummary> {
    if dir.as_os_str().is_empty() {
        return None;
    }
    let mut found: Vec<(PathBuf, SweepSummary)> = std::fs::read_dir(dir)
        .ok()?
        .filter_map(|e| e.ok())
        .map(|e| e.path().join("seeds.json"))
        .filter_map(|p| {
            let text = std::fs::read_to_string(&p).ok()?;
            let s: SweepSummary = serde_json::from_str(&text).ok()?;
            (s.format == SEEDS_FORMAT).then_some((p, s))
        })
        .filter(|(_, s)| {
            s.seeds.contains(&config.seed)
                && TrainConfig {
                    seed: config.seed,
                    ..s.config.clone()
                } == *config
        })
        .collect();
    // Deterministic choice when several match: the one with the most seeds, then path.
    found.sort_by(|a, b| b.1.seeds.len().cmp(&a.1.seeds.len()).then(a.0.cmp(&b.0)));
    found.into_iter().next().map(|(_, s)| s)
}

/// Marks each conclusion with how many seeds of `sweep` share its verdict.
pub fn mark(conclusions: &mut [Conclusion], sweep: &SweepSummary) {
    for c in conclusions {
        if let Some(sc) = sweep.conclusions.iter().find(|s| s.key == c.key) {
            let holds = sc.verdicts.iter().filter(|v| **v == c.verdict).count();
            c.stability = Some(Stability {
                holds,
                n: sc.verdicts.len(),
                stable: holds == sc.verdicts.len(),
                otherwise: sc
                    .verdicts
                    .iter()
                    .zip(&sweep.seeds)
                    .filter(|(v, _)| **v != c.verdict)
                    .map(|(v, s)| (*s, v.clone()))
                    .collect(),
            });
        }
    }
}

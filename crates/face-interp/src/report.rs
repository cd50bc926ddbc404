//! The report: every measurement of [`analyse`] in one [`Report`], written as a
//! self-contained HTML page (inline SVG), a JSON of every figure, and a Markdown summary.
//! It opens with conclusions built from this run's numbers.

use std::fmt::Write as _;
use std::fs;
use std::path::{Path, PathBuf};
use std::time::Instant;

use face_data::{PAD_ID, PadSide, Vocab};
use face_model::{RawModel, Weights};
use face_train::LoadedRun;
use face_train::config::TrainConfig;
use face_train::renderer::SplitMetrics;
use face_train::run::TestMetrics;
use serde::Serialize;

use crate::analysis::{
    self, AttentionStats, DecompositionCheck, Point2, SliceResult, Tables, evaluate,
};
use crate::decompose::decompose;
use crate::error::{Result, io};
use crate::html::{self, Markdown, Page};
use crate::plot::{self, ColorScale, HeatmapOptions, ScatterPoint, Series, Series2};
use crate::slices::{self, Slice, SliceItem, SliceSpec};

/// `report.json`'s format tag.
pub const REPORT_FORMAT: &str = "face-report/1";

/// The run the report is about.
#[derive(Debug, Clone, Serialize)]
pub struct RunSummary {
    /// Run directory.
    pub dir: String,
    /// Its config.
    pub config: TrainConfig,
    /// Epochs trained.
    pub epochs: usize,
    /// False when the model is the last checkpoint of an unfinished run.
    pub complete: bool,
    /// Parameters.
    pub n_params: usize,
    /// Final test figures from training, if recorded.
    pub test: Option<TestMetrics>,
    /// Training device and wall time.
    pub device: Option<String>,
    /// Training seconds.
    pub train_wall_s: Option<f64>,
}

/// One worked example.
#[derive(Debug, Clone, Serialize)]
pub struct ExampleFigure {
    /// Which slice it comes from.
    pub slice: String,
    /// The string.
    pub text: String,
    /// `contains_face`.
    pub label: bool,
    /// Padded tokens, `[n_ctx]`.
    pub tokens: Vec<String>,
    /// The logit.
    pub logit: f64,
    /// Attention pattern `[query][key]`.
    pub pattern: Vec<Vec<f64>>,
    /// Exact contribution of each query position.
    pub by_query: Vec<f64>,
}

/// Padding invariance on the test strings.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct PaddingResult {
    /// Strings.
    pub n: usize,
    /// Fraction whose decision changes between left and right padding.
    pub decision_flip_rate: f64,
    /// Mean |logit(left) − logit(right)|.
    pub mean_abs_logit_change: f64,
}

/// A conclusion and where its evidence is.
#[derive(Debug, Clone, Serialize)]
pub struct Conclusion {
    /// Stable identifier (compared across a seed sweep).
    pub key: String,
    /// The sentence, with its numbers.
    pub text: String,
    /// Section id holding the evidence.
    pub section: String,
    /// The qualitative claim, without numbers: what must hold on another seed for the
    /// conclusion to be called stable.
    pub verdict: String,
    /// The conclusion's key figures, by name.
    pub figures: Vec<(String, f64)>,
    /// Across a seed sweep of this config, when one exists.
    pub stability: Option<crate::seeds::Stability>,
}

/// A conclusion's key, verdict and figures.
struct Tag {
    key: &'static str,
    verdict: String,
    figures: Vec<(String, f64)>,
}

fn tag(key: &'static str, verdict: impl Into<String>, figures: &[(&str, f64)]) -> Tag {
    Tag {
        key,
        verdict: verdict.into(),
        figures: figures.iter().map(|(n, v)| (n.to_string(), *v)).collect(),
    }
}

/// Seconds per stage.
#[derive(Debug, Clone, Serialize, Default)]
pub struct Timings {
    /// Regenerating the data and slices.
    pub data_s: f64,
    /// Evaluating the slices.
    pub slices_s: f64,
    /// The decomposition check (Burn forward + terms).
    pub decomposition_s: f64,
    /// Tables, statistics, projections.
    pub mechanism_s: f64,
    /// Ablations, patching and attribution.
    pub causal_s: f64,
    /// Rule, scrubbing, exhaustive check.
    pub algorithm_s: f64,
    /// Everything.
    pub total_s: f64,
}

/// The causal analyses (ablation, patching, attribution).
#[derive(Debug, Clone, Serialize)]
pub struct CausalReport {
    /// Every site × kind × slice ablation.
    pub ablations: Vec<crate::causal::AblationResult>,
    /// (slice, site, spread of ΔBCE) where zero, mean and resample disagree by more than
    /// `disagreement_margin`.
    pub disagreements: Vec<(String, String, f64)>,
    /// The margin.
    pub disagreement_margin: f64,
    /// Test split, mean ablation of one position at a time: ΔBCE `[site][pos]`.
    pub position_ablation: Vec<Vec<f64>>,
    /// Site names of `position_ablation`'s rows.
    pub position_sites: Vec<String>,
    /// Strings per slice used for the ablations.
    pub ablation_slice_size: usize,
    /// Minimal pairs used for patching.
    pub n_pairs: usize,
    /// Mean normalised patching effect, `[site][pos]` (sites as in `patch_sites`).
    pub patching_mean: Vec<Vec<f64>>,
    /// Site names of `patching_mean`'s rows.
    pub patch_sites: Vec<String>,
    /// Patching hypotheses, best first.
    pub claims: Vec<crate::causal::PatchClaim>,
    /// Attribution methods scored against the exact single-position ablation.
    pub attribution: Vec<crate::attribution::MethodScore>,
    /// Inputs used for the attribution benchmark.
    pub attribution_n: usize,
    /// Integrated-gradients steps.
    pub ig_steps: usize,
    /// Seconds.
    pub seconds: f64,
}

/// A rule trace of one worked example.
#[derive(Debug, Clone, Serialize)]
pub struct RuleTrace {
    /// Slice it comes from.
    pub slice: String,
    /// The string.
    pub text: String,
    /// `contains_face`.
    pub label: bool,
    /// Model logit.
    pub logit: f32,
    /// Rule score.
    pub score: f32,
    /// The rule, position by position.
    pub steps: Vec<crate::rule::Step>,
}

/// Scrubbing results on one slice.
#[derive(Debug, Clone, Serialize)]
pub struct ScrubSlice {
    /// Slice name.
    pub slice: String,
    /// One per hypothesis, in [`crate::scrub::Hypothesis::ALL`] order.
    pub results: Vec<crate::scrub::ScrubResult>,
}

/// The rule with one window: how sparse it is and how well it agrees.
#[derive(Debug, Clone, Serialize)]
pub struct WindowRow {
    /// The window (0: hard attention).
    pub window: f32,
    /// Mean distinct characters attended per position, test split.
    pub mean_partners: f64,
    /// Agreement with the model on the test split.
    pub in_distribution: f64,
    /// Lowest agreement over the slices, and where.
    pub worst: f64,
    /// The slice of `worst`.
    pub worst_slice: String,
}

/// The extracted algorithm and its verification.
#[derive(Debug, Clone, Serialize)]
pub struct AlgorithmReport {
    /// The rule in plain terms.
    pub rule: crate::rule::RuleSummary,
    /// The rule with each window of [`crate::rule::WINDOWS`]: sparsity against fidelity.
    pub window_scan: Vec<WindowRow>,
    /// Rule vs model (and truth) per slice.
    pub agreement: Vec<crate::rule::RuleAgreement>,
    /// The slice where the rule agrees least with the model.
    pub worst_agreement: String,
    /// The rule applied to worked examples.
    pub traces: Vec<RuleTrace>,
    /// Causal scrubbing per slice.
    pub scrubbing: Vec<ScrubSlice>,
    /// Strings per slice scrubbed, and scrubbed samples per string.
    pub scrub_size: usize,
    /// Samples per string.
    pub scrub_samples: usize,
    /// What each hypothesis claims, in [`crate::scrub::Hypothesis::ALL`] order.
    pub hypotheses: Vec<(String, String)>,
    /// The exhaustive comparison (examples: a few per class).
    pub exhaustive: crate::rule::Exhaustive,
    /// Its alphabet.
    pub exhaustive_alphabet: String,
    /// Every disagreement of the exhaustive check, written to
    /// `report/exhaustive_disagreements.tsv` rather than the JSON.
    #[serde(skip)]
    pub exhaustive_all: Vec<crate::rule::Disagreement>,
    /// Seconds.
    pub seconds: f64,
}

/// Everything in the report.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    /// [`REPORT_FORMAT`].
    pub format: String,
    /// The conclusions, first.
    pub conclusions: Vec<Conclusion>,
    /// The run.
    pub run: RunSummary,
    /// Loss and accuracy per epoch and split.
    pub training: Vec<SplitMetrics>,
    /// Per-slice figures.
    pub slices: Vec<SliceResult>,
    /// The slice where the model's accuracy is lowest.
    pub worst_slice: String,
    /// Left vs right padding.
    pub padding: PaddingResult,
    /// Decomposition check.
    pub decomposition: DecompositionCheck,
    /// QK and OV tables.
    pub tables: Tables,
    /// `mean_q ‖W_U[q] − w̄‖ / ‖w̄‖`.
    pub readout_dispersion: f64,
    /// Mean |logit change| when a test string's characters are permuted, over the logit
    /// standard deviation.
    pub permutation_sensitivity: f64,
    /// Attention statistics.
    pub attention: AttentionStats,
    /// Worked examples.
    pub examples: Vec<ExampleFigure>,
    /// Ablations, patching and attribution.
    pub causal: CausalReport,
    /// The extracted rule, scrubbing, exhaustive check, adversarial inputs.
    pub algorithm: AlgorithmReport,
    /// The seed sweep of this config, when one exists.
    pub seeds: Option<crate::seeds::SweepSummary>,
    /// Embedding PCA.
    pub embedding: Vec<Point2>,
    /// Variance explained by the two components.
    pub embedding_explained: [f64; 2],
    /// Strings per generated slice, and the slices' seed.
    pub slice_size: usize,
    /// Seed of the slices.
    pub slice_seed: u64,
    /// Timings of this analysis.
    pub timings: Timings,
}

/// Analysis settings.
#[derive(Debug, Clone)]
pub struct AnalyseOptions {
    /// Strings per generated slice.
    pub slice_size: usize,
    /// Seed of the slices.
    pub seed: u64,
    /// Strings per slice for ablations, and minimal pairs for patching; also the
    /// strings per slice scrubbed.
    pub causal_size: usize,
    /// Longest string of the exhaustive check (0 skips it).
    pub exhaustive_len: usize,
    /// Where to look for seed sweeps (`None`: `<run dir>/../../seeds`).
    pub seeds_dir: Option<PathBuf>,
}

impl Default for AnalyseOptions {
    fn default() -> Self {
        AnalyseOptions {
            slice_size: 4000,
            seed: 1,
            causal_size: 1000,
            exhaustive_len: 6,
            seeds_dir: None,
        }
    }
}

fn side_of(row: &[u32]) -> PadSide {
    if row.first() == Some(&PAD_ID) {
        PadSide::Left
    } else {
        PadSide::Right
    }
}

fn burn_logits(run: &LoadedRun, ids: &[u32]) -> Vec<f32> {
    let device = face_model::device::flex();
    let n_ctx = run.checkpoint.config.n_ctx;
    let mut out = Vec::with_capacity(ids.len() / n_ctx);
    for chunk in ids.chunks(n_ctx * 4096) {
        let t = face_model::batch::tokens_from_ids(chunk, n_ctx, &device);
        let z = run.checkpoint.model.forward(t).logit;
        out.extend(z.into_data().try_to_vec::<f32>().unwrap_or_default());
    }
    out
}

/// Measures everything the report shows.
pub fn analyse(run: &LoadedRun, dir: &Path, opts: &AnalyseOptions) -> Result<Report> {
    let t0 = Instant::now();
    let mut timings = Timings::default();
    let ck = &run.checkpoint;
    let vocab: &Vocab = &ck.vocab;
    let n_ctx = ck.config.n_ctx;
    let raw = RawModel::new(&ck.config, Weights::from_model(&ck.model));

    // Data: the run's test split, then the generated slices.
    let splits = face_train::data::build(&ck.data, vocab)?;
    let test = &splits.test;
    let in_dist = Slice {
        name: "in_distribution",
        description: "the run's own test split (same generator, same faces as training)",
        group_name: None,
        items: (0..test.len())
            .map(|i| SliceItem {
                text: test.examples[i].text.clone(),
                label: test.examples[i].label,
                side: side_of(test.row(i)),
                group: None,
                face_chars: test.examples[i]
                    .face
                    .as_ref()
                    .map(|p| p.chars.clone().collect()),
                source: None,
            })
            .collect(),
    };
    let spec = SliceSpec {
        generator: &ck.data.generator,
        padding: ck.data.padding,
        face_split: &splits.face_split,
        n: opts.slice_size,
        seed: opts.seed,
    };
    let mut all = vec![in_dist];
    all.extend(slices::generated(&spec)?);
    let base: Vec<(String, bool)> = test
        .examples
        .iter()
        .map(|e| (e.text.clone(), e.label))
        .collect();
    let (left, right) = slices::padding_pair(&base);
    timings.data_s = t0.elapsed().as_secs_f64();

    // Per-slice evaluation.
    let t = Instant::now();
    let mut results = Vec::new();
    let mut slice_logits = Vec::new();
    for s in all.iter().chain([&left, &right]) {
        let (r, z) = evaluate(&raw, vocab, s)?;
        results.push(r);
        slice_logits.push(z);
    }
    let nl = slice_logits.len();
    let (zl, zr) = (&slice_logits[nl - 2], &slice_logits[nl - 1]);
    let padding = PaddingResult {
        n: zl.len(),
        decision_flip_rate: zl
            .iter()
            .zip(zr)
            .filter(|(a, b)| (**a >= 0.0) != (**b >= 0.0))
            .count() as f64
            / zl.len().max(1) as f64,
        mean_abs_logit_change: zl
            .iter()
            .zip(zr)
            .map(|(a, b)| f64::from((a - b).abs()))
            .sum::<f64>()
            / zl.len().max(1) as f64,
    };
    let worst_slice = results
        .iter()
        .filter(|r| r.accuracy.is_finite())
        .min_by(|a, b| a.accuracy.total_cmp(&b.accuracy))
        .map(|r| r.name.clone())
        .unwrap_or_default();
    timings.slices_s = t.elapsed().as_secs_f64();

    // Decomposition against the Burn forward, on every test input.
    let t = Instant::now();
    let zb = burn_logits(run, &test.ids);
    let decomposition = analysis::check_decomposition(&raw, &test.ids, &zb);
    timings.decomposition_s = t.elapsed().as_secs_f64();

    // Mechanism.
    let t = Instant::now();
    let tables = analysis::tables(&raw, vocab, 10);
    let readout_dispersion = analysis::readout_dispersion(&raw);
    let find = |name: &str| all.iter().find(|s| s.name == name);
    let bag = find("bag_matched_negatives");
    let (bag_ids, bag_faces) = match bag {
        Some(b) => (
            b.encode(vocab, n_ctx)?.0,
            b.items
                .iter()
                .map(|i| i.face_chars.clone())
                .collect::<Vec<_>>(),
        ),
        None => (Vec::new(), Vec::new()),
    };
    let id_faces: Vec<Option<Vec<usize>>> =
        all[0].items.iter().map(|i| i.face_chars.clone()).collect();
    let attention = analysis::attention_stats(&raw, (&test.ids, &id_faces), (&bag_ids, &bag_faces));
    // Permutation sensitivity: each test string with its characters shuffled (same side).
    let mut r = face_data::rng(opts.seed, face_data::Stream::Shuffle);
    let shuffled: Vec<SliceItem> = all[0]
        .items
        .iter()
        .map(|it| {
            use rand::seq::SliceRandom;
            let mut c: Vec<char> = it.text.chars().collect();
            c.shuffle(&mut r);
            SliceItem {
                text: c.into_iter().collect(),
                ..it.clone()
            }
        })
        .collect();
    let shuffled_slice = Slice {
        name: "shuffled_test",
        description: "",
        group_name: None,
        items: shuffled,
    };
    let (sh_ids, _) = shuffled_slice.encode(vocab, n_ctx)?;
    let permutation_sensitivity = analysis::permutation_sensitivity(&raw, &test.ids, &sh_ids);
    let (embedding, embedding_explained) = analysis::embedding_pca(&raw, vocab);

    let mut examples = Vec::new();
    for (name, want) in [
        ("in_distribution", Some(true)),
        ("in_distribution", Some(false)),
        ("bag_matched_negatives", None),
        ("shuffled_faces", None),
        ("truncated_faces", None),
    ] {
        let Some(s) = find(name) else { continue };
        let Some(it) = s.items.iter().find(|i| want.is_none_or(|w| i.label == w)) else {
            continue;
        };
        let e = vocab.encode_padded(&it.text, n_ctx, it.side)?;
        let d = decompose(&raw, &e.ids);
        examples.push(ExampleFigure {
            slice: name.to_string(),
            text: it.text.clone(),
            label: it.label,
            tokens: e
                .ids
                .iter()
                .map(|&t| tables.tokens[t as usize].clone())
                .collect(),
            logit: d.logit(),
            pattern: d.pattern.chunks(n_ctx).map(<[f64]>::to_vec).collect(),
            by_query: d.by_query(),
        });
    }
    timings.mechanism_s = t.elapsed().as_secs_f64();

    let t = Instant::now();
    let causal = causal_analyses(run, &all, &spec, vocab, opts)?;
    timings.causal_s = t.elapsed().as_secs_f64();

    let t = Instant::now();
    let algorithm = algorithm_analyses(&raw, vocab, &all, &slice_logits, opts)?;
    timings.algorithm_s = t.elapsed().as_secs_f64();

    let m = run.metrics.as_ref();
    let run_summary = RunSummary {
        dir: dir.display().to_string(),
        config: run.config.clone(),
        epochs: run.epoch,
        complete: run.complete,
        n_params: ck.config.n_params(),
        test: m.and_then(|m| m.test.clone()),
        device: m.map(|m| format!("{} ({})", m.device.backend, m.device.name)),
        train_wall_s: m.map(|m| m.wall_s),
    };
    let mut report = Report {
        format: REPORT_FORMAT.into(),
        conclusions: Vec::new(),
        run: run_summary,
        training: m.map(|m| m.epochs.clone()).unwrap_or_default(),
        slices: results,
        worst_slice,
        padding,
        decomposition,
        tables,
        readout_dispersion,
        permutation_sensitivity,
        attention,
        examples,
        causal,
        algorithm,
        seeds: None,
        embedding,
        embedding_explained,
        slice_size: opts.slice_size,
        slice_seed: opts.seed,
        timings,
    };
    report.conclusions = conclusions(&report);
    let seeds_dir = opts
        .seeds_dir
        .clone()
        .unwrap_or_else(|| dir.join("..").join("..").join("seeds"));
    if let Some(sweep) = crate::seeds::find(&seeds_dir, &run.config) {
        crate::seeds::mark(&mut report.conclusions, &sweep);
        report.seeds = Some(sweep);
    }
    report.timings.total_s = t0.elapsed().as_secs_f64();
    Ok(report)
}

/// The alphabet of the exhaustive check: brackets, face parts (eyes, mouths, tears) and
/// filler, every one a character of the vocabulary (none maps to UNK).
pub const EXHAUSTIVE_ALPHABET: &str = "()^_o-;T°ツω>z";

/// The extracted rule, its agreement per slice, traces, scrubbing per slice, and the
/// exhaustive check with its adversarial inputs. `slice_logits[i]` are the model's
/// logits on `slices_[i]`.
fn algorithm_analyses(
    raw: &RawModel,
    vocab: &Vocab,
    slices_: &[Slice],
    slice_logits: &[Vec<f32>],
    opts: &AnalyseOptions,
) -> Result<AlgorithmReport> {
    use crate::rule::{self, AttentionRule};
    use crate::scrub::{self, Hypothesis};
    let t = Instant::now();
    let n_ctx = raw.config().n_ctx;
    let rule_ = AttentionRule::from_raw(raw, rule::DEFAULT_WINDOW);
    let summary = rule::summarize(&rule_, vocab, 8);
    let mut agreement = Vec::new();
    for (s, z) in slices_.iter().zip(slice_logits) {
        let (ids, _) = s.encode(vocab, n_ctx)?;
        let labels: Vec<bool> = s.items.iter().map(|i| i.label).collect();
        let bracket: Vec<bool> = s
            .items
            .iter()
            .map(|i| slices::bracket_rule(&i.text))
            .collect();
        agreement.push(rule::agreement(&rule_, s.name, &ids, z, &labels, &bracket));
    }
    let worst_agreement = agreement
        .iter()
        .min_by(|a, b| a.agreement.total_cmp(&b.agreement))
        .map(|a| a.slice.clone())
        .unwrap_or_default();
    let encoded: Vec<Vec<u32>> = slices_
        .iter()
        .map(|s| s.encode(vocab, n_ctx).map(|e| e.0))
        .collect::<Result<_>>()?;
    let window_scan = rule::WINDOWS
        .iter()
        .map(|&w| {
            let r = rule_.clone().with_window(w);
            let per: Vec<(String, f64)> = slices_
                .iter()
                .zip(&encoded)
                .zip(slice_logits)
                .map(|((s, ids), z)| {
                    let agree = ids
                        .chunks(n_ctx)
                        .zip(z)
                        .filter(|(row, z)| (r.score(row) >= 0.0) == (**z >= 0.0))
                        .count() as f64
                        / z.len().max(1) as f64;
                    (s.name.to_string(), agree)
                })
                .collect();
            let (worst_slice, worst) = per
                .iter()
                .min_by(|a, b| a.1.total_cmp(&b.1))
                .cloned()
                .unwrap_or_default();
            WindowRow {
                window: w,
                mean_partners: r.mean_partners(encoded.first().map_or(&[][..], |e| e), w),
                in_distribution: per.first().map_or(f64::NAN, |p| p.1),
                worst,
                worst_slice,
            }
        })
        .collect();

    // Traces: a face, its anagram, and the first string of each slice where the rule and
    // the model part (if any), so the report shows the rule where it is weakest too.
    let mut traces = Vec::new();
    let mut trace = |name: &str, text: &str, label: bool, side: PadSide| -> Result<()> {
        let e = vocab.encode_padded(text, n_ctx, side)?;
        traces.push(RuleTrace {
            slice: name.to_string(),
            text: text.to_string(),
            label,
            logit: raw.logit(&e.ids),
            score: rule_.score(&e.ids),
            steps: rule_.trace(vocab, &e.ids),
        });
        Ok(())
    };
    for (name, want) in [
        ("in_distribution", Some(true)),
        ("bag_matched_negatives", None),
        ("held_out_faces", Some(true)),
    ] {
        if let Some(it) = slices_
            .iter()
            .find(|s| s.name == name)
            .and_then(|s| s.items.iter().find(|i| want.is_none_or(|w| i.label == w)))
        {
            trace(name, &it.text, it.label, it.side)?;
        }
    }
    let worst = slices_
        .iter()
        .zip(slice_logits)
        .find(|(s, _)| s.name == worst_agreement);
    if let Some((s, z)) = worst {
        for (it, &zi) in s.items.iter().zip(z) {
            let e = vocab.encode_padded(&it.text, n_ctx, it.side)?;
            if (zi >= 0.0) != (rule_.score(&e.ids) >= 0.0) {
                trace(s.name, &it.text, it.label, it.side)?;
                break;
            }
        }
    }

    // Causal scrubbing per slice.
    let alphabet = face_data::faces().charset().to_vec();
    let samples = 4;
    // L_random: the model on random in-distribution test strings (both labels), for
    // every slice.
    let reference_items: Vec<(String, bool, PadSide)> = slices_
        .first()
        .map(|s| {
            s.items
                .iter()
                .take(opts.causal_size)
                .map(|i| (i.text.clone(), i.label, i.side))
                .collect()
        })
        .unwrap_or_default();
    let reference = scrub::reference_logits(raw, vocab, &reference_items);
    let mut scrubbing = Vec::new();
    for (i, s) in slices_.iter().enumerate() {
        let all_items: Vec<(String, bool, PadSide)> = s
            .items
            .iter()
            .map(|i| (i.text.clone(), i.label, i.side))
            .collect();
        let (items, pool) = all_items.split_at(opts.causal_size.min(all_items.len()));
        scrubbing.push(ScrubSlice {
            slice: s.name.to_string(),
            results: scrub::scrub_all(
                raw,
                vocab,
                &rule_,
                items,
                pool,
                &alphabet,
                samples,
                opts.seed.wrapping_add(i as u64),
                &reference,
            ),
        });
    }

    // Exhaustive check, both paddings, with the truth for the adversarial hit rate.
    let ids: Vec<u32> = EXHAUSTIVE_ALPHABET.chars().map(|c| vocab.id(c)).collect();
    let truth = |t: &[u32]| face_data::contains_face(&vocab.decode(t));
    let mut exhaustive = rule::exhaustive(
        raw,
        &rule_,
        &ids,
        opts.exhaustive_len,
        &[PadSide::Left, PadSide::Right],
        Some(&truth),
        6,
        true,
    );
    let exhaustive_all = std::mem::take(&mut exhaustive.examples);
    let mut per_class = std::collections::HashMap::new();
    exhaustive.examples = exhaustive_all
        .iter()
        .filter(|d| {
            let c = per_class.entry(d.class).or_insert(0usize);
            *c += 1;
            *c <= 6
        })
        .cloned()
        .collect();
    Ok(AlgorithmReport {
        rule: summary,
        window_scan,
        agreement,
        worst_agreement,
        traces,
        scrubbing,
        scrub_size: opts.causal_size,
        scrub_samples: samples,
        hypotheses: Hypothesis::ALL
            .iter()
            .map(|h| (h.label().to_string(), h.claim().to_string()))
            .collect(),
        exhaustive,
        exhaustive_alphabet: EXHAUSTIVE_ALPHABET.to_string(),
        exhaustive_all,
        seconds: t.elapsed().as_secs_f64(),
    })
}

/// Ablations per slice, patching on minimal pairs, the attribution benchmark.
fn causal_analyses(
    run: &LoadedRun,
    slices_: &[Slice],
    spec: &SliceSpec<'_>,
    vocab: &Vocab,
    opts: &AnalyseOptions,
) -> Result<CausalReport> {
    use crate::attribution;
    use crate::causal;
    let t = Instant::now();
    let model = &run.checkpoint.model;
    let n_ctx = run.checkpoint.config.n_ctx;
    let k = opts.causal_size;
    let take = |s: &Slice| Slice {
        items: s.items.iter().take(k).cloned().collect(),
        ..s.clone()
    };
    let reference = take(&slices_[0]).encode(vocab, n_ctx)?.0;
    let mut ablations = Vec::new();
    for s in slices_ {
        let s = take(s);
        let (ids, _) = s.encode(vocab, n_ctx)?;
        let labels: Vec<bool> = s.items.iter().map(|i| i.label).collect();
        ablations.extend(causal::ablations(model, s.name, &ids, &labels, &reference));
    }
    let margin = 0.5;
    let disagreements = causal::disagreements(&ablations, margin);
    let id0 = take(&slices_[0]);
    let id_labels: Vec<bool> = id0.items.iter().map(|i| i.label).collect();
    let position_ablation = causal::position_ablations(model, &reference, &id_labels, &reference);

    let pairs = slices::minimal_pairs(spec, k, opts.seed)?;
    let mut clean = Vec::new();
    let mut corrupt = Vec::new();
    for p in &pairs {
        clean.extend(vocab.encode_padded(&p.clean, n_ctx, p.side)?.ids);
        corrupt.extend(vocab.encode_padded(&p.corrupt, n_ctx, p.side)?.ids);
    }
    let effects = causal::patching(model, &clean, &corrupt);
    let patching_mean = effects
        .iter()
        .map(|site| {
            site.iter()
                .map(|per_pair| per_pair.iter().sum::<f64>() / per_pair.len().max(1) as f64)
                .collect()
        })
        .collect();
    let claims = causal::patch_claims(model, &clean, &corrupt, 0.9);

    // Attribution on in-distribution test strings (positives carry their face span).
    let id = take(&slices_[0]);
    let m = id.items.len().min(500);
    let items = &id.items[..m];
    let mut ids = Vec::with_capacity(m * n_ctx);
    let mut spans = Vec::with_capacity(m);
    for it in items {
        let e = vocab.encode_padded(&it.text, n_ctx, it.side)?;
        let len = it.text.chars().count();
        let shift = if it.side == PadSide::Left {
            n_ctx - len
        } else {
            0
        };
        spans.push(
            it.face_chars
                .as_ref()
                .map(|f| f.iter().map(|c| c + shift).collect::<Vec<usize>>()),
        );
        ids.extend(e.ids);
    }
    let ig_steps = 32;
    let attribution = attribution::benchmark(model, &ids, &spans, ig_steps);
    Ok(CausalReport {
        ablations,
        disagreements,
        disagreement_margin: margin,
        position_ablation,
        position_sites: causal::POSITION_SITES
            .iter()
            .map(|s| s.as_str().to_string())
            .collect(),
        ablation_slice_size: k,
        n_pairs: pairs.len(),
        patching_mean,
        patch_sites: causal::SITES
            .iter()
            .map(|s| s.as_str().to_string())
            .collect(),
        claims,
        attribution,
        attribution_n: m,
        ig_steps,
        seconds: t.elapsed().as_secs_f64(),
    })
}

fn pct(x: f64) -> String {
    if x.is_finite() {
        format!("{:.2}%", 100.0 * x)
    } else {
        "n/a".into()
    }
}

/// A string of token ids as the tables display it (`␣` for a space).
fn text_of(r: &Report, ids: &[u32]) -> String {
    ids.iter()
        .map(|&t| r.tables.tokens.get(t as usize).map_or("?", String::as_str))
        .collect()
}

/// A unit enum's serde name (`tie_split`).
fn serde_plain<T: Serialize>(v: &T) -> String {
    serde_json::to_value(v)
        .ok()
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_default()
}

fn slice<'a>(r: &'a Report, name: &str) -> Option<&'a SliceResult> {
    r.slices.iter().find(|s| s.name == name)
}

/// The conclusions, each built from this report's numbers.
pub fn conclusions(r: &Report) -> Vec<Conclusion> {
    let mut out = Vec::new();
    let mut say = |t: Tag, text: String, section: &str| {
        out.push(Conclusion {
            key: t.key.into(),
            text,
            section: section.into(),
            verdict: t.verdict,
            figures: t.figures,
            stability: None,
        })
    };
    if let Some(id) = slice(r, "in_distribution") {
        let mut s = format!(
            "On its own test split the model is {} accurate (n = {}), against {} for the rule \"contains `(` and `)`\"",
            pct(id.accuracy),
            id.n,
            pct(id.rule_accuracy)
        );
        if let Some(h) = slice(r, "held_out_faces") {
            let gap = id.accuracy - h.accuracy;
            let _ = write!(
                s,
                "; on faces it never saw in training it is {} (the rule: {}), {} {:.1} points",
                pct(h.accuracy),
                pct(h.rule_accuracy),
                if gap >= 0.0 { "a drop of" } else { "a gain of" },
                100.0 * gap.abs()
            );
        }
        s.push('.');
        let held = slice(r, "held_out_faces");
        let gap = held.map_or(f64::NAN, |h| id.accuracy - h.accuracy);
        say(
            tag(
                "held_out_gap",
                if gap.is_nan() {
                    "there are no held-out faces to compare"
                } else if gap > 0.05 {
                    "the model drops more than 5 points on faces it never saw"
                } else {
                    "the model stays within 5 points on faces it never saw"
                },
                &[
                    ("in_distribution accuracy", id.accuracy),
                    (
                        "held_out_faces accuracy",
                        held.map_or(f64::NAN, |h| h.accuracy),
                    ),
                ],
            ),
            s,
            "slices",
        );
    }
    if let Some(w) = slice(r, &r.worst_slice) {
        let beats = r
            .slices
            .iter()
            .filter(|s| s.rule_accuracy > s.accuracy)
            .map(|s| s.name.as_str())
            .collect::<Vec<_>>();
        say(
            tag(
                "worst_slice",
                format!("the worst slice is {}", w.name),
                &[
                    ("worst slice accuracy", w.accuracy),
                    ("slices where the bracket rule wins", beats.len() as f64),
                ],
            ),
            format!(
                "The worst slice is {} at {} (the bracket rule scores {} there); the bracket rule beats the model on {} of {} slices{}.",
                w.name,
                pct(w.accuracy),
                pct(w.rule_accuracy),
                beats.len(),
                r.slices.len(),
                if beats.is_empty() {
                    String::new()
                } else {
                    format!(" ({})", beats.join(", "))
                }
            ),
            "slices",
        );
    }
    if let Some(b) = slice(r, "bag_matched_negatives") {
        let verdict = if r.readout_dispersion < 0.05 {
            "its readout rows are nearly identical, so it is close to a bag-of-characters classifier"
        } else if b.accuracy < 0.75 {
            "it sees order only weakly: most of its decision comes from which characters occur"
        } else {
            "it uses character order, not only the bag of characters"
        };
        say(
            tag(
                "bag",
                verdict,
                &[
                    ("bag_matched_negatives accuracy", b.accuracy),
                    ("permutation sensitivity", r.permutation_sensitivity),
                    ("readout dispersion", r.readout_dispersion),
                ],
            ),
            format!(
                "On bag-matched negatives (a positive's characters rearranged so no face remains) the model is {} accurate, and permuting a test string's characters moves its logit by {:.2} logit standard deviations on average; the readout rows W_U[q] differ from their mean by {:.2} of its norm: {verdict}.",
                pct(b.accuracy),
                r.permutation_sensitivity,
                r.readout_dispersion
            ),
            "bag",
        );
    }
    if let Some(s) = slice(r, "shuffled_faces") {
        say(
            tag(
                "shuffled",
                if s.false_positive_rate > 0.5 {
                    "most shuffled faces are called faces"
                } else {
                    "most shuffled faces are rejected"
                },
                &[("shuffled_faces false-positive rate", s.false_positive_rate)],
            ),
            format!(
                "Shuffled faces (a face's own characters permuted) that contain no face are called faces {} of the time, bag-matched negatives {}: compare the bag-of-characters index above.",
                pct(s.false_positive_rate),
                slice(r, "bag_matched_negatives")
                    .map_or("n/a".into(), |b| pct(b.false_positive_rate))
            ),
            "slices",
        );
    }
    let d = &r.decomposition;
    say(
        tag(
            "decomposition",
            if d.max_rel_error < 1e-5 {
                "the decomposition is exact within 1e-5 relative"
            } else {
                "the decomposition misses by more than 1e-5 relative"
            },
            &[
                ("max abs error", d.max_abs_error),
                ("max rel error", d.max_rel_error),
            ],
        ),
        format!(
            "The logit is exactly a sum of {}×{} (query, key) terms plus a bias: on all {} test inputs the terms (in f64) sum to the f32 Burn forward's logit within {:.1e} absolute, {:.1e} relative to max(1, |logit|) (largest |logit| {:.1}).",
            r.tables.ov.len(),
            r.tables.ov.len(),
            d.n,
            d.max_abs_error,
            d.max_rel_error,
            d.max_abs_logit
        ),
        "decomposition",
    );
    let a = &r.attention;
    say(
        tag(
            "attention",
            format!(
                "attention is {} than uniform and {} a face from its anagram",
                if a.mean_entropy < a.uniform_entropy {
                    "sharper"
                } else {
                    "no sharper"
                },
                if (a.face_to_face_positive - a.face_to_face_bag_negative).abs() < 0.05 {
                    "does not tell"
                } else {
                    "tells"
                }
            ),
            &[
                ("mean attention entropy", a.mean_entropy),
                ("face→face mass, positives", a.face_to_face_positive),
                ("face→face mass, bag negatives", a.face_to_face_bag_negative),
            ],
        ),
        format!(
            "Attention is {} than uniform (mean row entropy {:.2} nats vs {:.2}); face characters put {} of their attention on face characters in positives ({} if uniform) and {} in bag-matched negatives ({} if uniform){}.",
            if a.mean_entropy < a.uniform_entropy {
                "sharper"
            } else {
                "no sharper"
            },
            a.mean_entropy,
            a.uniform_entropy,
            pct(a.face_to_face_positive),
            pct(a.face_to_face_positive_uniform),
            pct(a.face_to_face_bag_negative),
            pct(a.face_to_face_bag_negative_uniform),
            if (a.face_to_face_positive - a.face_to_face_bag_negative).abs() < 0.05 {
                ": within 5 points, so attention alone does not tell a face from the same characters rearranged"
            } else {
                ": attention differs between a face and its rearrangement"
            }
        ),
        "attention",
    );
    let top = |v: &[analysis::CharScore]| {
        v.iter()
            .take(5)
            .map(|c| format!("`{}` ({:+.2})", c.token, c.value))
            .collect::<Vec<_>>()
            .join(", ")
    };
    say(
        tag(
            "ov_top",
            format!(
                "attending to `{}` pushes hardest towards face",
                r.tables
                    .towards_face
                    .first()
                    .map_or("", |c| c.token.as_str())
            ),
            &[(
                "largest mean OV value",
                r.tables.towards_face.first().map_or(f64::NAN, |c| c.value),
            )],
        ),
        format!(
            "Attending to {} pushes hardest towards \"face\"; attending to {} pushes hardest towards \"not face\" (mean over query positions of the OV table).",
            top(&r.tables.towards_face),
            top(&r.tables.towards_not_face)
        ),
        "tables",
    );
    if let Some(nz) = slice(r, "noise")
        && let (Some(first), Some(last)) = (nz.groups.first(), nz.groups.last())
    {
        say(
            tag(
                "noise",
                if first.accuracy - last.accuracy > 0.2 {
                    "accuracy falls by more than 20 points as filler grows"
                } else {
                    "accuracy holds within 20 points as filler grows"
                },
                &[
                    ("accuracy, least filler", first.accuracy),
                    ("accuracy, most filler", last.accuracy),
                ],
            ),
            format!(
                "With {} filler characters around a face accuracy is {}; with {} it is {}.",
                first.group,
                pct(first.accuracy),
                last.group,
                pct(last.accuracy)
            ),
            "slices",
        );
    }
    if let Some(off) = slice(r, "every_offset")
        && let Some(worst) = off
            .groups
            .iter()
            .min_by(|a, b| a.accuracy.total_cmp(&b.accuracy))
    {
        let best = off
            .groups
            .iter()
            .map(|g| g.accuracy)
            .fold(f64::NEG_INFINITY, f64::max);
        say(
            tag(
                "offset",
                if best - worst.accuracy > 0.2 {
                    "accuracy depends on the offset by more than 20 points"
                } else {
                    "accuracy depends on the offset by 20 points or less"
                },
                &[
                    ("worst offset accuracy", worst.accuracy),
                    ("best offset accuracy", best),
                ],
            ),
            format!(
                "Across offsets accuracy ranges from {} (offset {}) to {}.",
                pct(worst.accuracy),
                worst.group,
                pct(best)
            ),
            "slices",
        );
    }
    let c = &r.causal;
    // Sites that matter: mean ablation on the in-distribution slice, largest ΔBCE first.
    let mut id_mean: Vec<&crate::causal::AblationResult> = c
        .ablations
        .iter()
        .filter(|a| a.slice == "in_distribution" && a.kind == crate::causal::Ablation::Mean)
        .collect();
    id_mean.sort_by(|a, b| b.d_bce.total_cmp(&a.d_bce));
    if !id_mean.is_empty() {
        let list = id_mean
            .iter()
            .map(|a| {
                format!(
                    "{} (ΔBCE {:+.3}, Δacc {:+.1} pts)",
                    a.site,
                    a.d_bce,
                    100.0 * a.d_accuracy
                )
            })
            .collect::<Vec<_>>()
            .join(", ");
        say(
            tag(
                "ablation",
                format!("mean-ablating {} harms most", id_mean[0].site),
                &[
                    ("largest ΔBCE", id_mean[0].d_bce),
                    ("ablation disagreements", c.disagreements.len() as f64),
                ],
            ),
            format!(
                "Mean-ablating each site on the test split, from most to least harmful: {list}; zero, mean and resample ablation disagree by more than {} BCE at {} (slice, site) cells.",
                c.disagreement_margin,
                c.disagreements.len()
            ),
            "ablations",
        );
    }
    if let Some(best) = c.claims.first() {
        say(
            tag(
                "patching",
                format!("the best patching claim is {}", best.site),
                &[
                    ("best claim: share of pairs", best.share),
                    ("best claim: median effect", best.median_effect),
                ],
            ),
            format!(
                "Activation patching on {} minimal pairs (a face and a one-edit near miss): patching {} at the {} positions (mean {:.1} positions) restores ≥ {:.0}% of the logit difference on {} of pairs (median effect {:.2}); this is the best of {} site × position hypotheses searched.",
                c.n_pairs,
                best.site,
                serde_json::to_value(best.positions)
                    .ok()
                    .and_then(|v| v.as_str().map(str::to_string))
                    .unwrap_or_default()
                    .replace('_', " "),
                best.mean_positions,
                100.0 * best.threshold,
                pct(best.share),
                best.median_effect,
                c.claims.len()
            ),
            "patching",
        );
    }
    let mut methods: Vec<&crate::attribution::MethodScore> = c
        .attribution
        .iter()
        .filter(|m| m.method != crate::attribution::Method::Exact)
        .collect();
    methods.sort_by(|a, b| b.spearman.total_cmp(&a.spearman));
    if let (Some(best), Some(worst)) = (methods.first(), methods.last()) {
        let ig_err = c
            .attribution
            .iter()
            .filter_map(|m| m.completeness_error)
            .fold(0.0, f64::max);
        say(
            tag(
                "attribution",
                format!("{} agrees best with exact ablation", best.method.as_str()),
                &[
                    ("best Spearman ρ", best.spearman),
                    ("worst Spearman ρ", worst.spearman),
                ],
            ),
            format!(
                "Against the exact single-position ablation effect, {} agrees best (Spearman ρ {:.2}, top-k inside the face for {} of positives) and {} worst (ρ {:.2}, {}); integrated gradients' completeness error is at most {:.1e}.",
                best.method.as_str(),
                best.spearman,
                pct(best.localisation),
                worst.method.as_str(),
                worst.spearman,
                pct(worst.localisation),
                ig_err
            ),
            "attribution",
        );
    }
    say(
        tag(
            "padding",
            if r.padding.decision_flip_rate < 0.01 {
                "the padding side changes under 1% of decisions"
            } else {
                "the padding side changes 1% of decisions or more"
            },
            &[("decision flip rate", r.padding.decision_flip_rate)],
        ),
        format!(
            "Padding the same test string on the left instead of the right changes the decision for {} of strings (mean |Δlogit| {:.3}).",
            pct(r.padding.decision_flip_rate),
            r.padding.mean_abs_logit_change
        ),
        "slices",
    );
    let al = &r.algorithm;
    let ag = |name: &str| al.agreement.iter().find(|a| a.slice == name);
    if let (Some(id), Some(worst)) = (ag("in_distribution"), ag(&al.worst_agreement)) {
        let min_r2 = al
            .agreement
            .iter()
            .map(|a| a.r2)
            .fold(f64::INFINITY, f64::min);
        let every = al.agreement.iter().all(|a| a.agreement >= 0.97);
        let held = ag("held_out_faces");
        say(
            tag(
                "rule",
                format!(
                    "the extracted rule agrees with the model on {} 99.5% of the test split and {} 97% of every slice",
                    if id.agreement >= 0.995 {
                        "at least"
                    } else {
                        "under"
                    },
                    if every { "at least" } else { "under" }
                ),
                &[
                    ("rule agreement, in_distribution", id.agreement),
                    ("rule agreement, worst slice", worst.agreement),
                    ("rule R², in_distribution", id.r2),
                    ("rule R², lowest over slices", min_r2),
                ],
            ),
            format!(
                "The extracted rule (every position attends only to the characters its own character scores within {:.0} of its favourite in the QK table, {:.2} distinct characters on average, and adds their position-dependent votes; face when the votes reach {:.2}) agrees with the model's decision on {} of the test split (R² of rule score vs logit {:.3}) and on {} of {} (its worst slice; lowest R² over slices {:.3}); against the truth it is {} accurate on the test split{}, where the model is {}.",
                al.rule.window,
                al.window_scan
                    .iter()
                    .find(|w| w.window == al.rule.window)
                    .map_or(f64::NAN, |w| w.mean_partners),
                al.rule.threshold,
                pct(id.agreement),
                id.r2,
                pct(worst.agreement),
                worst.slice,
                min_r2,
                pct(id.rule_accuracy),
                held.map_or(String::new(), |h| format!(
                    " and {} on held-out faces",
                    pct(h.rule_accuracy)
                )),
                pct(id.model_accuracy)
            ),
            "rule",
        );
    }
    let sc = |slice: &str, h: crate::scrub::Hypothesis| {
        al.scrubbing
            .iter()
            .find(|s| s.slice == slice)
            .and_then(|s| s.results.iter().find(|x| x.hypothesis == h))
    };
    {
        use crate::scrub::Hypothesis;
        let min_over = |h: Hypothesis| {
            al.scrubbing
                .iter()
                .filter_map(|s| {
                    s.results
                        .iter()
                        .find(|x| x.hypothesis == h && x.defined && x.recovered.is_finite())
                        .map(|x| (s.slice.clone(), x.recovered, x.se))
                })
                .min_by(|a, b| a.1.total_cmp(&b.1))
        };
        if !al.scrubbing.is_empty() {
            let part = |h: Hypothesis| {
                let id = sc("in_distribution", h).filter(|x| x.defined);
                let lo = min_over(h);
                format!(
                    "{} {} (lowest over slices where it is defined: {})",
                    h.label(),
                    id.map_or("n/a".into(), |x| format!(
                        "{} ± {:.1}",
                        pct(x.recovered),
                        100.0 * x.se
                    )),
                    lo.as_ref()
                        .map_or("n/a".into(), |l| format!("{} on {}", pct(l.1), l.0))
                )
            };
            // The claim: H_rule recovers at least 90% wherever the share is defined.
            let rule_low = min_over(Hypothesis::Rule);
            say(
                tag(
                    "scrubbing",
                    match &rule_low {
                        None => "H_rule's share is defined on no slice".to_string(),
                        Some((_, v, _)) if *v >= 0.9 => {
                            "H_rule recovers at least 90% of the loss on every slice where the share is defined".to_string()
                        }
                        Some(_) => {
                            "H_rule recovers under 90% of the loss on some slice".to_string()
                        }
                    },
                    &Hypothesis::ALL
                        .iter()
                        .map(|&h| {
                            (
                                h.label(),
                                sc("in_distribution", h).map_or(f64::NAN, |x| x.recovered),
                            )
                        })
                        .collect::<Vec<_>>(),
                ),
                format!(
                    "Causal scrubbing, share of the BCE loss recovered on the test split: {}; {}; {}; {}. The share is undefined on {} where the model is not clearly better than a random input (its loss under 25% below). H_rule found no other donor for {} of the test split's (string, position) pairs.",
                    part(Hypothesis::Rule),
                    part(Hypothesis::Bag),
                    part(Hypothesis::Bracket),
                    part(Hypothesis::FirstChar),
                    {
                        let undefined: Vec<&str> = al
                            .scrubbing
                            .iter()
                            .filter(|s| s.results.iter().any(|x| !x.defined))
                            .map(|s| s.slice.as_str())
                            .collect();
                        if undefined.is_empty() {
                            "no slice".to_string()
                        } else {
                            undefined.join(", ")
                        }
                    },
                    pct(sc("in_distribution", Hypothesis::Rule)
                        .and_then(|x| x.self_donor)
                        .unwrap_or(f64::NAN))
                ),
                "scrubbing",
            );
        }
    }
    let ex = &al.exhaustive;
    if ex.n > 0 {
        let classes = ex
            .by_class
            .iter()
            .map(|(c, k)| format!("{} {}", serde_plain(c), k))
            .collect::<Vec<_>>()
            .join(", ");
        say(
            tag(
                "exhaustive",
                if ex.disagreements == 0 {
                    "rule and model agree on every string of the exhaustive domain"
                } else {
                    "rule and model part on some strings of the exhaustive domain, every one classified"
                },
                &[
                    (
                        "exhaustive disagreement rate",
                        ex.disagreements as f64 / ex.n as f64,
                    ),
                    (
                        "model accuracy on the domain",
                        ex.model_accuracy.unwrap_or(f64::NAN),
                    ),
                ],
            ),
            format!(
                "Exhaustively, over all {} strings of length 1–{} over the {} characters `{}`, each padded left and right ({} inputs), the rule and the model decide differently on {} inputs ({}); by cause: {}. Against contains_face the model is {} accurate on this domain and the rule {}.",
                ex.n / ex.sides.len().max(1) as u64,
                ex.max_len,
                ex.alphabet,
                al.exhaustive_alphabet,
                ex.n,
                ex.disagreements,
                pct(ex.disagreements as f64 / ex.n as f64),
                classes,
                pct(ex.model_accuracy.unwrap_or(f64::NAN)),
                pct(ex.rule_accuracy.unwrap_or(f64::NAN))
            ),
            "exhaustive",
        );
        // Two of each kind: false faces, then missed faces.
        let examples = [false, true]
            .iter()
            .flat_map(|&kind| {
                ex.adversarial
                    .iter()
                    .filter(move |a| a.truth == kind)
                    .take(2)
            })
            .map(|a| {
                format!(
                    "`{}` ({}, logit {:+.1})",
                    text_of(r, &a.ids),
                    if a.truth { "missed face" } else { "false face" },
                    a.logit
                )
            })
            .collect::<Vec<_>>()
            .join(", ");
        say(
            tag(
                "adversarial",
                if ex.predicted_errors == 0 {
                    "the rule predicts no model errors on the domain"
                } else if ex.hit_rate() >= 0.5 {
                    "most model errors predicted from the tables are real"
                } else {
                    "most model errors predicted from the tables are not real"
                },
                &[("adversarial hit rate", ex.hit_rate())],
            ),
            format!(
                "From the tables alone the rule predicts {} model errors on that domain ({} false faces, {} missed faces); {} are real errors, a hit rate of {} ({} of the false faces, {} of the missed faces); e.g. {}.",
                ex.predicted_errors,
                ex.false_faces.0,
                ex.missed_faces.0,
                ex.predicted_hits,
                pct(ex.hit_rate()),
                pct(ex.false_faces.1 as f64 / ex.false_faces.0.max(1) as f64),
                pct(ex.missed_faces.1 as f64 / ex.missed_faces.0.max(1) as f64),
                if examples.is_empty() {
                    "none".into()
                } else {
                    examples
                }
            ),
            "exhaustive",
        );
    }
    out
}

fn fmt(x: f64) -> String {
    plot::fmt_num(x)
}

/// The HTML page.
pub fn render_html(r: &Report) -> String {
    let mut page = Page::new("What the face classifier computes");
    let items: Vec<String> = r
        .conclusions
        .iter()
        .map(|c| {
            format!(
                "{} <a href=\"#{}\">(§{})</a>{}",
                html::escape(&c.text),
                c.section,
                c.section,
                c.stability.as_ref().map_or(String::new(), |s| format!(
                    " <b>[{}]</b>",
                    html::escape(&stability_label(s))
                ))
            )
        })
        .collect();
    let mut intro = String::from("<h2>Conclusions</h2><ol>");
    for i in &items {
        let _ = write!(intro, "<li>{i}</li>");
    }
    intro.push_str("</ol>");
    page.intro(intro);

    // Run and training.
    let mut body = html::para(&format!(
        "Run {}: task {:?}, {} examples, d_model {}, {} parameters, {} epochs{} on {}.",
        r.run.dir,
        r.run.config.data.task,
        r.run.config.data.n_examples,
        r.run.config.model.d_model,
        r.run.n_params,
        r.run.epochs,
        if r.run.complete {
            ""
        } else {
            " (unfinished run: last checkpoint)"
        },
        r.run.device.clone().unwrap_or_else(|| "?".into())
    ));
    let series = |split: &str, f: fn(&SplitMetrics) -> f64| Series {
        name: split.to_string(),
        points: r
            .training
            .iter()
            .filter(|m| m.split == split)
            .map(|m| (m.epoch as f64, f(m)))
            .collect(),
    };
    body.push_str(&html::figure(
        plot::line_chart(
            "Loss",
            "epoch",
            "BCE",
            &[series("train", |m| m.loss), series("valid", |m| m.loss)],
            None,
        ),
        "Mean binary cross-entropy per epoch (valid = the test split).",
    ));
    body.push_str(&html::figure(
        plot::line_chart(
            "Accuracy",
            "epoch",
            "accuracy",
            &[
                series("train", |m| m.accuracy),
                series("valid", |m| m.accuracy),
            ],
            None,
        ),
        "Accuracy per epoch.",
    ));
    page.section("training", "Training", body);

    // Slices.
    let headers = [
        "slice",
        "n",
        "positives",
        "model acc",
        "model BCE",
        "bracket rule acc",
        "what it tests",
    ];
    let rows: Vec<Vec<String>> = r
        .slices
        .iter()
        .map(|s| {
            vec![
                s.name.clone(),
                s.n.to_string(),
                s.positives.to_string(),
                pct(s.accuracy),
                pct(s.recall),
                pct(s.false_positive_rate),
                format!("{:.4}", s.bce),
                pct(s.rule_accuracy),
                s.description.clone(),
            ]
        })
        .collect();
    let mut body = html::para(&format!(
        "Every slice is generated from seed {} ({} strings per generated slice); labels come from contains_face. The worst slice for the model is {}.",
        r.slice_seed, r.slice_size, r.worst_slice
    ));
    body.push_str(&html::table(&headers, &rows));
    let cats: Vec<String> = r.slices.iter().map(|s| s.name.clone()).collect();
    body.push_str(&html::figure(
        plot::bar_chart(
            "Accuracy per slice: model vs bracket rule",
            "accuracy",
            &cats,
            &[
                Series2 {
                    name: "model".into(),
                    values: r.slices.iter().map(|s| s.accuracy).collect(),
                },
                Series2 {
                    name: "contains ( and )".into(),
                    values: r.slices.iter().map(|s| s.rule_accuracy).collect(),
                },
            ],
        ),
        "Model accuracy beside the bracket rule's, per slice.",
    ));
    for s in r.slices.iter().filter(|s| !s.groups.is_empty()) {
        let gname = s.group_name.clone().unwrap_or_default();
        body.push_str(&html::figure(
            plot::line_chart(
                &format!("{}: accuracy by {gname}", s.name),
                &gname,
                "accuracy",
                &[
                    Series {
                        name: "model".into(),
                        points: s
                            .groups
                            .iter()
                            .map(|g| (g.group as f64, g.accuracy))
                            .collect(),
                    },
                    Series {
                        name: "bracket rule".into(),
                        points: s
                            .groups
                            .iter()
                            .map(|g| (g.group as f64, g.rule_accuracy))
                            .collect(),
                    },
                ],
                Some((0.0, 1.0)),
            ),
            s.description.as_str(),
        ));
    }
    body.push_str(&html::para(&format!(
        "Padding: the decision changes for {} of the {} test strings between left and right padding (mean |Δlogit| {}).",
        pct(r.padding.decision_flip_rate),
        r.padding.n,
        fmt(r.padding.mean_abs_logit_change)
    )));
    page.section("slices", "Evaluation slices", body);

    // Bag of characters.
    let body = html::para(&format!(
        "Readout dispersion mean_q ‖W_U[q] − w̄‖/‖w̄‖ = {} (0 would make the model blind to order). Permuting each test string's characters moves the logit by {} standard deviations of the test logits on average. Bag-matched negatives: {}.",
        fmt(r.readout_dispersion),
        fmt(r.permutation_sensitivity),
        slice(r, "bag_matched_negatives").map_or("n/a".into(), |s| pct(s.accuracy))
    ));
    page.section("bag", "Bag of characters", body);

    // Decomposition.
    let d = &r.decomposition;
    let mut body = html::para(&format!(
        "logit = b_U + Σ_q Σ_k pattern[q,k] · UV[q, t_k]. Checked on all {} test inputs against the Burn forward: max error {:.2e}, mean {:.2e}, max relative to max(1, |logit|) {:.2e} (largest |logit| {}).",
        d.n,
        d.max_abs_error,
        d.mean_abs_error,
        d.max_rel_error,
        fmt(d.max_abs_logit)
    ));
    for e in &r.examples {
        let labels: Vec<String> = e
            .tokens
            .iter()
            .enumerate()
            .map(|(i, t)| format!("{i}:{t}"))
            .collect();
        body.push_str(&html::figure(
            plot::hbar_chart(
                &format!("{} `{}` (label {}, logit {})", e.slice, e.text, u8::from(e.label), fmt(e.logit)),
                "contribution to the logit",
                &labels,
                &e.by_query,
            ),
            "Exact contribution of each query position (Σ_k of its terms); they sum to logit − b_U.",
        ));
    }
    page.section("decomposition", "Exact decomposition", body);

    // Attention.
    let a = &r.attention;
    let mut body = html::para(&format!(
        "Mean attention entropy {} nats (uniform: {}). Face→face attention mass: positives {} (uniform {}), bag-matched negatives {} (uniform {}).",
        fmt(a.mean_entropy),
        fmt(a.uniform_entropy),
        pct(a.face_to_face_positive),
        pct(a.face_to_face_positive_uniform),
        pct(a.face_to_face_bag_negative),
        pct(a.face_to_face_bag_negative_uniform)
    ));
    for e in &r.examples {
        let labels: Vec<String> = e
            .tokens
            .iter()
            .enumerate()
            .map(|(i, t)| format!("{i}:{t}"))
            .collect();
        body.push_str(&html::figure(
            plot::heatmap_with(
                &format!("Attention pattern: `{}` ({})", e.text, e.slice),
                &labels,
                &labels,
                &e.pattern,
                ColorScale::Sequential,
                &HeatmapOptions {
                    x_label: "key".into(),
                    y_label: "query".into(),
                    show_values: false,
                    range: Some((0.0, 1.0)),
                },
            ),
            "Rows: query positions; columns: key positions.",
        ));
    }
    page.section("attention", "Attention", body);

    // Tables.
    let t = &r.tables;
    let mut body = html::para(
        "QK[a, b]: the scaled pre-softmax score of a query character a on a key character b. OV (UV[q, c]): what attending to c adds to the logit at query position q.",
    );
    let rows: Vec<Vec<String>> = t
        .towards_face
        .iter()
        .zip(&t.towards_not_face)
        .map(|(f, n)| vec![f.token.clone(), fmt(f.value), n.token.clone(), fmt(n.value)])
        .collect();
    body.push_str(&html::table(
        &["towards face", "mean UV", "towards not face", "mean UV"],
        &rows,
    ));
    body.push_str(&html::figure(
        plot::heatmap(
            "QK table (query × key)",
            &t.tokens,
            &t.tokens,
            &t.qk,
            ColorScale::Diverging,
        ),
        "Pre-softmax attention scores over the vocabulary.",
    ));
    let pos: Vec<String> = (0..t.ov.len()).map(|q| format!("q{q}")).collect();
    body.push_str(&html::figure(
        plot::heatmap(
            "OV table (query position × attended character)",
            &pos,
            &t.tokens,
            &t.ov,
            ColorScale::Diverging,
        ),
        "Contribution to the logit per unit of attention.",
    ));
    page.section("tables", "QK and OV tables", body);

    // Embeddings.
    let groups = ["PAD/UNK", "bracket", "other"];
    let pts: Vec<ScatterPoint> = r
        .embedding
        .iter()
        .map(|p| ScatterPoint {
            x: p.x,
            y: p.y,
            label: p.token.clone(),
            group: if p.token == "PAD" || p.token == "UNK" {
                0
            } else if "()（）[]{}".contains(p.token.as_str()) {
                1
            } else {
                2
            },
        })
        .collect();
    let body = html::figure(
        plot::scatter(
            &format!(
                "Character embeddings, PCA (PC1 {} , PC2 {} of variance)",
                pct(r.embedding_explained[0]),
                pct(r.embedding_explained[1])
            ),
            "PC1",
            "PC2",
            &pts,
            &groups.map(String::from),
        ),
        "W_E rows projected on their top two principal components.",
    );
    page.section("embedding", "Embedding geometry", body);

    render_causal(&mut page, &r.causal);
    render_algorithm(&mut page, r);
    if let Some(sw) = &r.seeds {
        render_seeds(&mut page, sw);
    }

    let tm = &r.timings;
    page.section(
        "timings",
        "Timings",
        html::para(&format!(
            "This analysis took {:.2} s: data {:.2} s, slices {:.2} s, decomposition {:.2} s, mechanism {:.2} s, causal analyses {:.2} s, extracted rule, scrubbing and exhaustive check {:.2} s.",
            tm.total_s,
            tm.data_s,
            tm.slices_s,
            tm.decomposition_s,
            tm.mechanism_s,
            tm.causal_s,
            tm.algorithm_s
        )),
    );
    page.render()
}

fn render_causal(page: &mut Page, c: &CausalReport) {
    use crate::causal::Ablation;
    // Ablations: one site × slice heatmap of ΔBCE per kind.
    let mut slices_: Vec<String> = c.ablations.iter().map(|a| a.slice.clone()).collect();
    slices_.dedup();
    let mut body = html::para(&format!(
        "Each site is ablated at every position on up to {} strings per slice: zero, mean (over the test split) and resample (another input's activation); the pattern also by uniform attention. Cells: ΔBCE (positive = worse).",
        c.ablation_slice_size
    ));
    for kind in [Ablation::Zero, Ablation::Mean, Ablation::Resample] {
        let values: Vec<Vec<f64>> = c
            .patch_sites
            .iter()
            .map(|site| {
                slices_
                    .iter()
                    .map(|sl| {
                        c.ablations
                            .iter()
                            .find(|a| &a.site == site && &a.slice == sl && a.kind == kind)
                            .map_or(f64::NAN, |a| a.d_bce)
                    })
                    .collect()
            })
            .collect();
        body.push_str(&html::figure(
            plot::heatmap(
                &format!("ΔBCE under {kind:?} ablation (site × slice)"),
                &c.patch_sites,
                &slices_,
                &values,
                ColorScale::Diverging,
            ),
            "Change in mean BCE when the site is ablated.",
        ));
    }
    let rows: Vec<Vec<String>> = c
        .disagreements
        .iter()
        .map(|(sl, site, spread)| vec![sl.clone(), site.clone(), fmt(*spread)])
        .collect();
    body.push_str(&html::para(&format!(
        "Cells where zero, mean and resample ablation disagree by more than {} BCE: {}.",
        c.disagreement_margin,
        rows.len()
    )));
    if !rows.is_empty() {
        body.push_str(&html::table(&["slice", "site", "ΔBCE spread"], &rows));
    }
    let pos: Vec<String> = (0..c.position_ablation.first().map_or(0, Vec::len))
        .map(|p| format!("p{p}"))
        .collect();
    body.push_str(&html::figure(
        plot::heatmap(
            "ΔBCE when one position is mean-ablated (test split)",
            &c.position_sites,
            &pos,
            &c.position_ablation,
            ColorScale::Diverging,
        ),
        "Which positions the model reads: the embedding, the value and the head input (z) at one position at a time.",
    ));
    page.section("ablations", "Ablations", body);

    // Patching.
    let pos: Vec<String> = (0..c.patching_mean.first().map_or(0, Vec::len))
        .map(|p| format!("p{p}"))
        .collect();
    let mut body = html::para(&format!(
        "{} minimal pairs (a face; the same string after one substitution, deletion or swap inside the face, leaving no face). Cell: mean normalised effect (patched − corrupt)/(clean − corrupt) of patching the clean activation at one site and position into the corrupt run.",
        c.n_pairs
    ));
    body.push_str(&html::figure(
        plot::heatmap(
            "Patching effect (site × position)",
            &c.patch_sites,
            &pos,
            &c.patching_mean,
            ColorScale::Diverging,
        ),
        "1 = the single patch restores the clean logit; 0 = no effect.",
    ));
    let rows: Vec<Vec<String>> = c
        .claims
        .iter()
        .take(10)
        .map(|cl| {
            vec![
                cl.site.clone(),
                format!("{:?}", cl.positions),
                fmt(cl.mean_positions),
                pct(cl.share),
                fmt(cl.median_effect),
            ]
        })
        .collect();
    body.push_str(&html::para(
        "Hypotheses searched (site × which positions), by share of pairs restored to ≥ 90% of the logit difference:",
    ));
    body.push_str(&html::table(
        &[
            "site",
            "positions",
            "mean #positions",
            "pairs ≥ 90%",
            "median effect",
        ],
        &rows,
    ));
    page.section("patching", "Activation patching", body);

    // Attribution.
    let rows: Vec<Vec<String>> = c
        .attribution
        .iter()
        .map(|m| {
            vec![
                m.method.as_str().to_string(),
                fmt(m.spearman),
                pct(m.localisation),
                m.completeness_error.map_or("–".into(), fmt),
            ]
        })
        .collect();
    let mut body = html::para(&format!(
        "{} test strings. Each method's per-position attribution is compared with the exact effect of zeroing that position's embedding (Spearman ρ of absolute values over positions, averaged over strings), and by localisation: the share of positives whose top-k positions (k = face length) all lie inside the face. Integrated gradients: {} steps, logit target.",
        c.attribution_n, c.ig_steps
    ));
    body.push_str(&html::table(
        &[
            "method",
            "Spearman ρ vs exact",
            "localisation",
            "IG completeness error",
        ],
        &rows,
    ));
    let names: Vec<String> = c
        .attribution
        .iter()
        .map(|m| m.method.as_str().to_string())
        .collect();
    body.push_str(&html::figure(
        plot::bar_chart(
            "Attribution methods against the exact ablation",
            "score",
            &names,
            &[
                Series2 {
                    name: "Spearman ρ".into(),
                    values: c.attribution.iter().map(|m| m.spearman).collect(),
                },
                Series2 {
                    name: "localisation".into(),
                    values: c.attribution.iter().map(|m| m.localisation).collect(),
                },
            ],
        ),
        "Higher is better; `exact` is the reference itself.",
    ));
    page.section("attribution", "Input attribution", body);
}

/// The Markdown summary.
pub fn render_markdown(r: &Report) -> String {
    let mut md = Markdown::new();
    md.heading(1, "What the face classifier computes");
    md.heading(2, "Conclusions");
    for c in &r.conclusions {
        md.bullet(&format!(
            "{} (§{}){}",
            c.text,
            c.section,
            c.stability
                .as_ref()
                .map_or(String::new(), |s| format!(" **[{}]**", stability_label(s)))
        ));
    }
    md.heading(2, "Slices");
    let rows: Vec<Vec<String>> = r
        .slices
        .iter()
        .map(|s| {
            vec![
                s.name.clone(),
                s.n.to_string(),
                pct(s.accuracy),
                format!("{:.4}", s.bce),
                pct(s.rule_accuracy),
            ]
        })
        .collect();
    md.table(
        &["slice", "n", "model acc", "model BCE", "bracket rule acc"],
        &rows,
    );
    let al = &r.algorithm;
    md.heading(2, "The extracted rule");
    for line in &al.rule.text {
        md.bullet(line);
    }
    let (headers, rows) = agreement_table(al);
    md.table(&headers, &rows);
    md.heading(2, "Causal scrubbing (% loss recovered ± SE)");
    let (headers, rows) = scrub_table(al);
    let headers: Vec<&str> = headers.iter().map(String::as_str).collect();
    md.table(&headers, &rows);
    let ex = &al.exhaustive;
    md.heading(2, "Exhaustive check");
    md.para(&format!(
        "{} inputs (every string of length 1–{} over `{}`, padded left and right): {} disagreements ({}); {}. Adversarial hit rate {} ({} of {} predicted errors).",
        ex.n,
        ex.max_len,
        al.exhaustive_alphabet,
        ex.disagreements,
        pct(ex.disagreements as f64 / ex.n.max(1) as f64),
        ex.by_class
            .iter()
            .map(|(c, k)| format!("{} {k}", serde_plain(c)))
            .collect::<Vec<_>>()
            .join(", "),
        pct(ex.hit_rate()),
        ex.predicted_hits,
        ex.predicted_errors
    ));
    md.para(&format!(
        "Decomposition: max error {:.2e} over {} test inputs. Analysis time {:.2} s.",
        r.decomposition.max_abs_error, r.decomposition.n, r.timings.total_s
    ));
    md.render()
}

/// Every disagreement of the exhaustive check, one per line:
/// `string<TAB>padding<TAB>model logit<TAB>rule score<TAB>class`.
fn disagreements_tsv(r: &Report) -> String {
    let mut out = String::from("string\tpadding\tmodel_logit\trule_score\tclass\n");
    for d in &r.algorithm.exhaustive_all {
        let _ = writeln!(
            out,
            "{}\t{}\t{:.4}\t{:.4}\t{}",
            text_of(r, &d.ids),
            if d.side == PadSide::Left {
                "left"
            } else {
                "right"
            },
            d.logit,
            d.score,
            serde_plain(&d.class)
        );
    }
    out
}

/// Rule vs model (and truth) per slice: headers and rows, for the HTML and the Markdown.
fn agreement_table(al: &AlgorithmReport) -> ([&'static str; 7], Vec<Vec<String>>) {
    let rows = al
        .agreement
        .iter()
        .map(|a| {
            vec![
                a.slice.clone(),
                a.n.to_string(),
                pct(a.agreement),
                format!("{:.3}", a.r2),
                pct(a.rule_accuracy),
                pct(a.model_accuracy),
                pct(a.bracket_accuracy),
            ]
        })
        .collect();
    (
        [
            "slice",
            "n",
            "rule = model",
            "R² (score vs logit)",
            "rule accuracy",
            "model accuracy",
            "bracket rule accuracy",
        ],
        rows,
    )
}

/// Scrubbing per slice and hypothesis: headers and rows.
fn scrub_table(al: &AlgorithmReport) -> (Vec<String>, Vec<Vec<String>>) {
    let mut headers = vec!["slice".to_string(), "n".to_string()];
    headers.extend(
        crate::scrub::Hypothesis::ALL
            .iter()
            .map(|h| h.label().to_string()),
    );
    let rows = al
        .scrubbing
        .iter()
        .map(|s| {
            let mut row = vec![
                s.slice.clone(),
                s.results.first().map_or(0, |x| x.n).to_string(),
            ];
            row.extend(s.results.iter().map(scrub_cell));
            row
        })
        .collect();
    (headers, rows)
}

/// One scrubbing cell: `96.2% ± 2.5 (ΔL +0.07)`, or `n/a (ΔL …)` when undefined.
fn scrub_cell(x: &crate::scrub::ScrubResult) -> String {
    let dl = x.l_scrubbed - x.l_clean;
    if x.defined {
        format!("{} ± {:.1} (ΔL {dl:+.3})", pct(x.recovered), 100.0 * x.se)
    } else {
        format!("n/a (ΔL {dl:+.3})")
    }
}

/// "stable across 5 seeds" or "holds on 3 of 5 seeds (seed 2: …)".
pub fn stability_label(s: &crate::seeds::Stability) -> String {
    if s.stable {
        format!("stable across {} seeds", s.n)
    } else {
        format!(
            "not stable: holds on {} of {} seeds; {}",
            s.holds,
            s.n,
            s.otherwise
                .iter()
                .map(|(seed, v)| format!("seed {seed}: {v}"))
                .collect::<Vec<_>>()
                .join("; ")
        )
    }
}

/// The extracted rule, scrubbing, exhaustive check and adversarial inputs.
fn render_algorithm(page: &mut Page, r: &Report) {
    let al = &r.algorithm;
    let ru = &al.rule;
    // The rule.
    let mut body = html::para(&format!(
        "The rule below is read off the weights (the QK and UV tables of the exact decomposition) without fitting anything to data. Its one free choice is the window: how far below a position's favourite character a key may score and still be attended to. The table scans it, from hard attention (window 0) up. The rule uses a window of {:.0} (keys under {:.1}% of the favourite's weight are dropped), chosen when this tool was built from the same scan over five seeds of configs/default.toml; on this run the smallest scanned window that keeps every slice at ≥ 97% agreement is {}.",
        ru.window,
        100.0 * (-ru.window).exp(),
        al.window_scan
            .iter()
            .find(|w| w.worst >= 0.97)
            .map_or("none of them".to_string(), |w| format!("{:.2}", w.window))
    ));
    body.push_str(&html::list(&ru.text));
    let rows: Vec<Vec<String>> = al
        .window_scan
        .iter()
        .map(|w| {
            vec![
                format!("{:.2}", w.window),
                format!("{:.2}", w.mean_partners),
                pct(w.in_distribution),
                format!("{} ({})", pct(w.worst), w.worst_slice),
            ]
        })
        .collect();
    body.push_str(&html::table(
        &[
            "window",
            "characters attended per position",
            "agreement, test split",
            "agreement, worst slice",
        ],
        &rows,
    ));
    let vote_rows = |v: &[crate::rule::CharVote]| -> Vec<Vec<String>> {
        v.iter()
            .map(|c| {
                vec![
                    c.token.clone(),
                    format!("{:+.2}", c.mean),
                    format!("{:+.2} (p{})", c.min.0, c.min.1),
                    format!("{:+.2} (p{})", c.max.0, c.max.1),
                    c.first_choice_of.to_string(),
                ]
            })
            .collect()
    };
    let headers = [
        "character",
        "mean vote",
        "lowest vote",
        "highest vote",
        "first choice of (queries)",
    ];
    let n_show = 12;
    body.push_str(&html::para("Strongest votes for a face:"));
    let pro: Vec<crate::rule::CharVote> = ru
        .votes
        .iter()
        .filter(|v| v.mean > 0.0)
        .take(n_show)
        .cloned()
        .collect();
    body.push_str(&html::table(&headers, &vote_rows(&pro)));
    body.push_str(&html::para("Strongest votes against:"));
    let mut against: Vec<crate::rule::CharVote> = ru
        .votes
        .iter()
        .rev()
        .filter(|v| v.mean < 0.0)
        .take(n_show)
        .cloned()
        .collect();
    against.sort_by(|a, b| a.mean.total_cmp(&b.mean));
    body.push_str(&html::table(&headers, &vote_rows(&against)));
    body.push_str(&html::para(
        "Magnets: the characters that query characters rank first (the tokens that, when present, decide where attention goes):",
    ));
    let rows: Vec<Vec<String>> = ru
        .magnet_queries
        .iter()
        .zip(&ru.magnets)
        .map(|((tok, qs), m)| {
            vec![
                tok.clone(),
                m.first_choice_of.to_string(),
                format!("{:+.2}", m.mean),
                qs.join(" "),
            ]
        })
        .collect();
    body.push_str(&html::table(
        &["magnet", "first choice of", "its mean vote", "e.g. queries"],
        &rows,
    ));
    // Agreement per slice.
    body.push_str(&html::para(&format!(
        "Agreement with the model's decision per slice (goal ≥ 99.5% in distribution, ≥ 97% on every slice); R² of the rule's score taken as the logit (not refitted); and accuracy against contains_face. Worst slice: {}.",
        al.worst_agreement
    )));
    let (headers, rows) = agreement_table(al);
    body.push_str(&html::table(&headers, &rows));
    body.push_str(&html::figure(
        plot::bar_chart(
            "Rule vs model, per slice",
            "share",
            &al.agreement.iter().map(|a| a.slice.clone()).collect::<Vec<_>>(),
            &[
                Series2 {
                    name: "rule = model".into(),
                    values: al.agreement.iter().map(|a| a.agreement).collect(),
                },
                Series2 {
                    name: "rule accuracy".into(),
                    values: al.agreement.iter().map(|a| a.rule_accuracy).collect(),
                },
                Series2 {
                    name: "model accuracy".into(),
                    values: al.agreement.iter().map(|a| a.model_accuracy).collect(),
                },
            ],
        ),
        "Where rule and model agree but both are wrong, the model's error was predictable from the weights.",
    ));
    for t in &al.traces {
        let rows: Vec<Vec<String>> = t
            .steps
            .iter()
            .map(|s| {
                vec![
                    s.pos.to_string(),
                    s.token.clone(),
                    s.partners
                        .iter()
                        .map(|(t, w)| format!("{t} {w:.2}"))
                        .collect::<Vec<_>>()
                        .join(", "),
                    format!("{:+.2}", s.vote),
                ]
            })
            .collect();
        body.push_str(&html::para(&format!(
            "{} ({}, truth: {}): rule score {:+.2}, model logit {:+.2}.",
            t.text,
            t.slice,
            if t.label { "face" } else { "no face" },
            t.score,
            t.logit
        )));
        body.push_str(&html::table(
            &["position", "character", "attends to", "vote"],
            &rows,
        ));
    }
    page.section("rule", "The extracted rule", body);

    // Scrubbing.
    let mut body = html::para(&format!(
        "Share of the BCE loss recovered, (L_random − L_scrubbed) / (L_random − L_clean), ± bootstrap SE, on up to {} strings per slice with {} scrubbed samples each. L_random is the loss when the input is replaced by a random test-split string (either label), so slices with one label still have a baseline. 100% means the model behaves as the hypothesis says; 0% as if the input were random; above 100% means the scrubbed inputs score better than the real ones. ΔL = L_scrubbed − L_clean in nats. n/a: the model is not clearly better than a random input on that slice (L_random − L_clean < 25% of L_random), so the share is undefined.",
        al.scrub_size, al.scrub_samples
    ));
    body.push_str(&html::list(
        &al.hypotheses
            .iter()
            .map(|(h, c)| format!("{h}: {c}"))
            .collect::<Vec<_>>(),
    ));
    let (headers, rows) = scrub_table(al);
    let headers: Vec<&str> = headers.iter().map(String::as_str).collect();
    body.push_str(&html::table(&headers, &rows));
    if let Some(share) = al
        .scrubbing
        .iter()
        .find(|s| s.slice == "in_distribution")
        .and_then(|s| s.results.iter().find_map(|x| x.self_donor))
    {
        body.push_str(&html::para(&format!(
            "H_rule draws donors from the whole slice. On the test split {} of (string, position) pairs had no other string with the same character and partners at that position, so their output was kept as it was (untested there).",
            pct(share)
        )));
    }
    page.section("scrubbing", "Causal scrubbing", body);

    // Exhaustive.
    let ex = &al.exhaustive;
    let mut body = html::para(&format!(
        "Every string of length 1–{} over the {} characters `{}`, padded left and right: {} inputs, model (raw f32 evaluator) against the rule, in {:.2} s. Disagreements: {} ({}). Every one is classified by the first widening of the rule's attention window that makes it agree with the model; the complete list is in exhaustive_disagreements.tsv next to this page.",
        ex.max_len,
        ex.alphabet,
        al.exhaustive_alphabet,
        ex.n,
        ex.seconds,
        ex.disagreements,
        pct(ex.disagreements as f64 / ex.n.max(1) as f64)
    ));
    let rows: Vec<Vec<String>> = ex
        .by_class
        .iter()
        .map(|(c, k)| {
            vec![
                serde_plain(c),
                k.to_string(),
                c.explain().to_string(),
                ex.examples
                    .iter()
                    .filter(|d| d.class == *c)
                    .take(4)
                    .map(|d| {
                        format!(
                            "{} [{:?}] (logit {:+.2}, rule {:+.2})",
                            text_of(r, &d.ids),
                            d.side,
                            d.logit,
                            d.score
                        )
                    })
                    .collect::<Vec<_>>()
                    .join("; "),
            ]
        })
        .collect();
    body.push_str(&html::table(
        &["class", "strings", "what breaks", "examples"],
        &rows,
    ));
    body.push_str(&html::para(&format!(
        "Against contains_face on this domain the model is {} accurate and the rule {}.",
        pct(ex.model_accuracy.unwrap_or(f64::NAN)),
        pct(ex.rule_accuracy.unwrap_or(f64::NAN))
    )));
    body.push_str(&html::para(&format!(
        "Adversarial inputs predicted from the tables: wherever the rule's decision contradicts contains_face, the rule predicts a model error. It predicts {} ({} false faces, {} missed faces); the model errs on {} of them: hit rate {} (false faces {}, missed faces {}).",
        ex.predicted_errors,
        ex.false_faces.0,
        ex.missed_faces.0,
        ex.predicted_hits,
        pct(ex.hit_rate()),
        pct(ex.false_faces.1 as f64 / ex.false_faces.0.max(1) as f64),
        pct(ex.missed_faces.1 as f64 / ex.missed_faces.0.max(1) as f64)
    )));
    let rows: Vec<Vec<String>> = ex
        .adversarial
        .iter()
        .map(|a| {
            vec![
                text_of(r, &a.ids),
                format!("{:?}", a.side),
                if a.truth { "missed face" } else { "false face" }.into(),
                format!("{:+.2}", a.score),
                format!("{:+.2}", a.logit),
            ]
        })
        .collect();
    body.push_str(&html::table(
        &[
            "string",
            "padding",
            "predicted error",
            "rule score",
            "model logit",
        ],
        &rows,
    ));
    page.section(
        "exhaustive",
        "Exhaustive check and adversarial inputs",
        body,
    );
}

/// The seed sweep's stability table and pairwise rule agreement.
fn render_seeds(page: &mut Page, s: &crate::seeds::SweepSummary) {
    let mut body = html::para(&format!(
        "The same config trained with seeds {:?} (test accuracy {}), every analysis repeated. A conclusion is stable when its verdict is the same on every seed.",
        s.seeds,
        crate::seeds::accuracies(s)
    ));
    let (headers, rows) = crate::seeds::stability_table(s);
    body.push_str(&html::table(&headers, &rows));
    let (headers, rows) = crate::seeds::figures_table(s);
    body.push_str(&html::table(&headers, &rows));
    let labels: Vec<String> = s.seeds.iter().map(|x| format!("seed {x}")).collect();
    body.push_str(&html::figure(
        plot::heatmap(
            "Pairwise agreement of the extracted rules",
            &labels,
            &labels,
            &s.rule_agreement,
            ColorScale::Sequential,
        ),
        &format!(
            "Share of {} common strings (the first seed's test split and slices) on which two seeds' rules decide alike; smallest {}; on the {} test strings alone, smallest {}.",
            s.common_n,
            pct(s.min_rule_agreement),
            s.common_test_n,
            pct(s.min_rule_agreement_test)
        ),
    ));
    page.section("seeds", "Stability across seeds", body);
}

/// Writes `dir/report/{index.html, report.json, report.md}` together: into a temporary
/// directory, then renamed into place (an old report is moved aside first and removed
/// after), so no reader ever sees a mix of two reports or a half-written file. Returns
/// the HTML path.
pub fn write(r: &Report, run_dir: &Path) -> Result<PathBuf> {
    let final_dir = run_dir.join("report");
    let tmp = run_dir.join(format!(".report.tmp-{}", std::process::id()));
    let old = run_dir.join(format!(".report.old-{}", std::process::id()));
    let result = (|| -> Result<()> {
        if tmp.exists() {
            fs::remove_dir_all(&tmp).map_err(io(&tmp))?;
        }
        fs::create_dir_all(&tmp).map_err(io(&tmp))?;
        let json = serde_json::to_string_pretty(r).map_err(|e| crate::Error::Io {
            path: tmp.join("report.json"),
            source: std::io::Error::other(e),
        })?;
        for (name, text) in [
            ("index.html", render_html(r)),
            ("report.json", json),
            ("report.md", render_markdown(r)),
            ("exhaustive_disagreements.tsv", disagreements_tsv(r)),
        ] {
            let p = tmp.join(name);
            face_data::io::write_atomic(&p, |w| {
                use std::io::Write;
                w.write_all(text.as_bytes())
            })?;
        }
        if final_dir.exists() {
            fs::rename(&final_dir, &old).map_err(io(&final_dir))?;
        }
        fs::rename(&tmp, &final_dir).map_err(io(&final_dir))?;
        let _ = fs::remove_dir_all(&old);
        Ok(())
    })();
    if result.is_err() {
        let _ = fs::remove_dir_all(&tmp);
        if !final_dir.exists() && old.exists() {
            let _ = fs::rename(&old, &final_dir);
        }
    }
    result.map(|()| final_dir.join("index.html"))
}

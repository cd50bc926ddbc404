//! The analyses on a tiny trained fixture: decomposition, slices, predict, explain, the
//! report and its JSON, and the command line's bad-input paths.
// Helpers outside #[test] fns unwrap too: a failed fixture is a failed test.
#![allow(clippy::unwrap_used)]

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use face_data::{PadSide, Vocab, contains_face, faces};
use face_interp::analysis::evaluate;
use face_interp::decompose::decompose;
use face_interp::report::{AnalyseOptions, analyse};
use face_interp::slices::{SliceSpec, generated};
use face_model::{RawModel, Weights};
use face_train::{DeviceChoice, TrainConfig, TrainOptions};

/// A small run trained once per test binary (seed task, 2,000 examples, 3 epochs).
fn fixture() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let tmp = tempfile::tempdir().unwrap().keep();
        let dir = tmp.join("run");
        let cfg = TrainConfig::load(
            &Path::new(env!("CARGO_MANIFEST_DIR")).join("../../configs/default.toml"),
            &[
                "data.n_examples=2000".into(),
                "train.epochs=3".into(),
                "train.batch_size=16".into(),
            ],
        )
        .unwrap();
        let mut o = TrainOptions::new(&dir);
        o.device = DeviceChoice::Cpu;
        face_train::train(&cfg, &o).unwrap();
        dir
    })
}

fn loaded() -> face_train::LoadedRun {
    face_train::load_run(fixture(), &face_model::device::flex()).unwrap()
}

fn raw(run: &face_train::LoadedRun) -> RawModel {
    RawModel::new(
        &run.checkpoint.config,
        Weights::from_model(&run.checkpoint.model),
    )
}

#[test]
fn decomposition_sums_to_the_burn_logit() {
    let run = loaded();
    let r = raw(&run);
    let vocab = Vocab::faces();
    let n_ctx = run.checkpoint.config.n_ctx;
    let texts = ["(^_^)", "abc", "¯\\_(ツ)_/¯", "x(°o°)", ")))((("];
    let mut ids = Vec::new();
    for (i, t) in texts.iter().enumerate() {
        let side = if i % 2 == 0 {
            PadSide::Left
        } else {
            PadSide::Right
        };
        ids.extend(vocab.encode_padded(t, n_ctx, side).unwrap().ids);
    }
    let dev = face_model::device::flex();
    let z: Vec<f32> = run
        .checkpoint
        .model
        .forward(face_model::batch::tokens_from_ids(&ids, n_ctx, &dev))
        .logit
        .into_data()
        .try_to_vec::<f32>()
        .unwrap();
    for (row, &zb) in ids.chunks(n_ctx).zip(&z) {
        let d = decompose(&r, row);
        let err = (d.logit() - f64::from(zb)).abs();
        assert!(
            err <= 1e-4 * f64::from(zb).abs().max(1.0),
            "error {err} for logit {zb}"
        );
        let q: f64 = d.by_query().iter().sum();
        let k: f64 = d.by_key().iter().sum();
        assert!((q + d.bias - d.logit()).abs() < 1e-9);
        assert!((k + d.bias - d.logit()).abs() < 1e-9);
        for qi in 0..n_ctx {
            let s: f64 = d.pattern_row(qi).iter().sum();
            assert!((s - 1.0).abs() < 1e-9, "pattern row {qi} sums to {s}");
        }
    }
}

#[test]
fn slices_are_what_they_claim() {
    let run = loaded();
    let splits = face_train::data::build(&run.checkpoint.data, &Vocab::faces()).unwrap();
    let spec = SliceSpec {
        generator: &run.checkpoint.data.generator,
        padding: run.checkpoint.data.padding,
        face_split: &splits.face_split,
        n: 500,
        seed: 3,
    };
    let slices = generated(&spec).unwrap();
    let f = faces();
    let names: Vec<&str> = slices.iter().map(|s| s.name).collect();
    for want in [
        "held_out_faces",
        "truncated_faces",
        "shuffled_faces",
        "bag_matched_negatives",
        "brackets_without_face",
        "noise",
        "every_offset",
    ] {
        assert!(names.contains(&want), "missing slice {want}");
    }
    let n_ctx = run.checkpoint.config.n_ctx;
    for s in &slices {
        assert!(!s.items.is_empty(), "{} is empty", s.name);
        for it in &s.items {
            assert_eq!(
                it.label,
                contains_face(&it.text),
                "{}: {:?}",
                s.name,
                it.text
            );
            assert!(
                it.text.chars().count() <= n_ctx,
                "{}: {:?}",
                s.name,
                it.text
            );
            let sorted = |t: &str| {
                let mut c: Vec<char> = t.chars().collect();
                c.sort_unstable();
                c
            };
            match s.name {
                "bag_matched_negatives" => {
                    let src = it.source.as_ref().unwrap();
                    assert!(contains_face(src), "source {src:?} is not a positive");
                    assert_eq!(sorted(src), sorted(&it.text), "not the same multiset");
                    assert!(!it.label, "{:?} contains a face", it.text);
                }
                "shuffled_faces" => {
                    let src = it.source.as_ref().unwrap();
                    assert_eq!(sorted(src), sorted(&it.text));
                    assert_ne!(src, &it.text);
                }
                "truncated_faces" => {
                    let src = it.source.as_ref().unwrap();
                    assert!(src.starts_with(&it.text) || src.ends_with(&it.text));
                    assert!(it.text.chars().count() < src.chars().count());
                }
                "brackets_without_face" => {
                    assert!(it.text.starts_with('(') && it.text.ends_with(')'));
                    assert!(!it.label);
                }
                "noise" => {
                    let src = it.source.as_ref().unwrap();
                    assert!(it.text.contains(src.as_str()) && it.label);
                    let g = it.group.unwrap();
                    assert_eq!(it.text.chars().count(), src.chars().count() + g);
                }
                "every_offset" => {
                    let src = it.source.as_ref().unwrap();
                    let off = it.group.unwrap();
                    let chars: Vec<char> = it.text.chars().collect();
                    assert_eq!(chars.len(), n_ctx);
                    let at: String = chars[off..off + src.chars().count()].iter().collect();
                    assert_eq!(&at, src);
                }
                "held_out_faces" => {
                    if let Some(m) = f.find_face(&it.text) {
                        assert!(splits.face_split.is_held_out(m.face) || !it.label);
                    }
                }
                _ => {}
            }
        }
    }
    // Seeded: the same spec gives the same slices.
    let again = generated(&spec).unwrap();
    assert_eq!(
        slices.iter().map(|s| s.items.len()).collect::<Vec<_>>(),
        again.iter().map(|s| s.items.len()).collect::<Vec<_>>()
    );
    assert_eq!(slices[1].items[0].text, again[1].items[0].text);
}

#[test]
fn report_has_every_section_and_its_json_matches_recomputed_values() {
    let run = loaded();
    let tmp = tempfile::tempdir().unwrap();
    let opts = AnalyseOptions {
        slice_size: 400,
        seed: 5,
        causal_size: 200,
        exhaustive_len: 4,
        seeds_dir: Some(PathBuf::new()),
    };
    let report = analyse(&run, fixture(), &opts).unwrap();
    let path = face_interp::report::write(&report, tmp.path()).unwrap();
    let html = std::fs::read_to_string(&path).unwrap();
    for id in [
        "training",
        "slices",
        "bag",
        "decomposition",
        "attention",
        "tables",
        "embedding",
        "rule",
        "scrubbing",
        "exhaustive",
    ] {
        assert!(
            html.contains(&format!("id=\"{id}\"")),
            "section {id} missing"
        );
        assert!(
            html.contains(&format!("href=\"#{id}\"")),
            "link to {id} missing"
        );
    }
    assert!(!html.contains("NaN"));
    assert!(!html.contains("<script"));
    let json: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(tmp.path().join("report/report.json")).unwrap(),
    )
    .unwrap();
    // Recompute the in-distribution figures independently of the report.
    let splits = face_train::data::build(&run.checkpoint.data, &Vocab::faces()).unwrap();
    let r = raw(&run);
    let z: Vec<f32> = face_interp::analysis::logits(&r, &splits.test.ids);
    let acc = z
        .iter()
        .zip(&splits.test.labels)
        .filter(|(z, l)| (**z >= 0.0) == (**l == 1))
        .count() as f64
        / z.len() as f64;
    let slices = json["slices"].as_array().unwrap();
    let id = slices
        .iter()
        .find(|s| s["name"] == "in_distribution")
        .unwrap();
    assert_eq!(id["n"].as_u64().unwrap() as usize, splits.test.len());
    assert!((id["accuracy"].as_f64().unwrap() - acc).abs() < 1e-12);
    // The recorded training test accuracy is the same figure (Burn forward vs raw path).
    let trained = run
        .metrics
        .as_ref()
        .unwrap()
        .test
        .as_ref()
        .unwrap()
        .accuracy;
    assert!((trained - acc).abs() <= 1.0 / z.len() as f64);
    // A slice re-evaluated from scratch gives the JSON's numbers.
    let spec = SliceSpec {
        generator: &run.checkpoint.data.generator,
        padding: run.checkpoint.data.padding,
        face_split: &splits.face_split,
        n: 400,
        seed: 5,
    };
    let slices_again = generated(&spec).unwrap();
    let bag = slices_again
        .iter()
        .find(|s| s.name == "bag_matched_negatives")
        .unwrap();
    let (res, _) = evaluate(&r, &Vocab::faces(), bag).unwrap();
    let jb = slices
        .iter()
        .find(|s| s["name"] == "bag_matched_negatives")
        .unwrap();
    assert_eq!(jb["accuracy"].as_f64().unwrap(), res.accuracy);
    assert_eq!(jb["rule_accuracy"].as_f64().unwrap(), res.rule_accuracy);
    let dec = json["decomposition"]["max_rel_error"].as_f64().unwrap();
    assert!(dec < 1e-5, "decomposition relative error {dec}");
    assert_eq!(
        json["conclusions"].as_array().unwrap().len(),
        report.conclusions.len()
    );
    // Conclusions carry this run's numbers.
    let first = report.conclusions[0].text.clone();
    assert!(first.contains(&format!("{:.2}%", 100.0 * acc)), "{first}");
    let md = std::fs::read_to_string(tmp.path().join("report/report.md")).unwrap();
    assert!(md.contains("| in_distribution |"));
    // The rule's agreement on the test split, recomputed from the weights.
    let rule = face_interp::rule::AttentionRule::from_raw(&r, face_interp::rule::DEFAULT_WINDOW);
    let agree = splits
        .test
        .ids
        .chunks(r.config().n_ctx)
        .zip(&z)
        .filter(|(row, z)| (rule.score(row) >= 0.0) == (**z >= 0.0))
        .count() as f64
        / z.len() as f64;
    let ja = &json["algorithm"]["agreement"][0];
    assert_eq!(ja["slice"], "in_distribution");
    assert!((ja["agreement"].as_f64().unwrap() - agree).abs() < 1e-12);
    // Scrubbing: one row per slice, every hypothesis; the exhaustive domain's size; the
    // complete disagreement list next to the page.
    let scrubbing = json["algorithm"]["scrubbing"].as_array().unwrap();
    assert_eq!(scrubbing.len(), report.slices.len() - 2);
    assert!(
        scrubbing
            .iter()
            .all(|s| s["results"].as_array().unwrap().len() == 4)
    );
    let ex = &json["algorithm"]["exhaustive"];
    let a = face_interp::report::EXHAUSTIVE_ALPHABET.chars().count() as u64;
    assert_eq!(
        ex["n"].as_u64().unwrap(),
        2 * (1..=4).map(|l| a.pow(l)).sum::<u64>()
    );
    let tsv =
        std::fs::read_to_string(tmp.path().join("report/exhaustive_disagreements.tsv")).unwrap();
    assert_eq!(
        tsv.lines().count() as u64,
        1 + ex["disagreements"].as_u64().unwrap()
    );
    assert!(json["seeds"].is_null());
}

fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_face-interp"))
}

#[test]
fn predict_keeps_order_and_format_and_matches_the_model() {
    let run = loaded();
    let r = raw(&run);
    let tmp = tempfile::tempdir().unwrap();
    let input = tmp.path().join("in.txt");
    let lines = [
        "(^_^)",
        "hello",
        "¯\\_(ツ)_/¯",
        "a long line with a face (^_^) somewhere in it",
        "ünknöwn ☃",
    ];
    std::fs::write(&input, lines.join("\n") + "\n").unwrap();
    let o = bin()
        .args([
            "predict",
            "--run",
            fixture().to_str().unwrap(),
            input.to_str().unwrap(),
        ])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let out = String::from_utf8(o.stdout).unwrap();
    let got: Vec<&str> = out.lines().collect();
    assert_eq!(got.len(), lines.len());
    let n_ctx = run.checkpoint.config.n_ctx;
    let vocab = Vocab::faces();
    for (g, l) in got.iter().zip(lines) {
        let parts: Vec<&str> = g.splitn(3, '\t').collect();
        assert_eq!(parts.len(), 3, "{g}");
        assert_eq!(parts[2], l);
        let p: f32 = parts[0].parse().unwrap();
        assert_eq!(parts[1], if p >= 0.5 { "1" } else { "0" });
        // Recompute: canonicalise, pad left or slide a window, max logit.
        let canon = face_data::canonicalize(l);
        let enc = vocab.encode(&canon);
        let z = if enc.ids.len() <= n_ctx {
            r.logit(
                &vocab
                    .encode_padded(&canon, n_ctx, PadSide::Left)
                    .unwrap()
                    .ids,
            )
        } else {
            enc.ids
                .windows(n_ctx)
                .map(|w| r.logit(w))
                .fold(f32::NEG_INFINITY, f32::max)
        };
        let want = 1.0 / (1.0 + (-z).exp());
        assert!((p - want).abs() < 1e-6, "{l}: {p} vs {want}");
    }
    assert!(String::from_utf8_lossy(&o.stderr).contains("UNK"));
    // JSONL.
    let o = bin()
        .args([
            "predict",
            "--run",
            fixture().to_str().unwrap(),
            "--format",
            "jsonl",
            input.to_str().unwrap(),
        ])
        .output()
        .unwrap();
    let out = String::from_utf8(o.stdout).unwrap();
    for (g, l) in out.lines().zip(lines) {
        let v: serde_json::Value = serde_json::from_str(g).unwrap();
        assert_eq!(v["text"], l);
    }
}

fn assert_usage(o: &std::process::Output, needle: &str) {
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(err.contains(needle), "expected {needle:?} in {err}");
    assert_eq!(err.trim_end().lines().count(), 1, "{err}");
}

#[test]
fn bad_input_is_a_clear_error() {
    let tmp = tempfile::tempdir().unwrap();
    let run = fixture().to_str().unwrap();
    let bad = tmp.path().join("bad.txt");
    std::fs::write(&bad, b"fine\nbad \xff byte\n").unwrap();
    assert_usage(
        &bin()
            .args(["predict", "--run", run, bad.to_str().unwrap()])
            .output()
            .unwrap(),
        "line 2",
    );
    let empty = tmp.path().join("empty.txt");
    std::fs::write(&empty, b"").unwrap();
    assert_usage(
        &bin()
            .args(["predict", "--run", run, empty.to_str().unwrap()])
            .output()
            .unwrap(),
        "empty input",
    );
    let missing = tmp.path().join("nope");
    assert_usage(
        &bin()
            .args(["report", "--run", missing.to_str().unwrap()])
            .output()
            .unwrap(),
        "no face-train run",
    );
    // A corrupt model: copy the run and truncate its weights.
    let copy = tmp.path().join("copy");
    copy_dir(fixture(), &copy);
    let bpk = copy.join("model/model.bpk");
    let bytes = std::fs::read(&bpk).unwrap();
    std::fs::write(&bpk, &bytes[..bytes.len() / 2]).unwrap();
    let o = bin()
        .args(["explain", "--run", copy.to_str().unwrap(), "(^_^)"])
        .output()
        .unwrap();
    assert_usage(&o, "model.bpk");
    let o = bin()
        .args(["report", "--run", copy.to_str().unwrap()])
        .output()
        .unwrap();
    assert_usage(&o, "model.bpk");
    let leftovers: Vec<_> = std::fs::read_dir(&copy)
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.contains("report"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
    // A blank line gets its own output line; a string starting with '-' is explained.
    let blanks = tmp.path().join("blanks.txt");
    std::fs::write(&blanks, "(^_^)\n\nabc\n").unwrap();
    let o = bin()
        .args(["predict", "--run", run, blanks.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert_eq!(String::from_utf8_lossy(&o.stdout).lines().count(), 3);
    let o = bin()
        .args(["explain", "--run", run, "-_-"])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    // explain never panics, whatever the string.
    for text in [
        "",
        "\u{200b}",
        "a",
        &"(^_^)".repeat(40),
        "☃☃☃",
        "e\u{301}\u{301}",
    ] {
        let o = bin()
            .args(["explain", "--run", run, "--", text])
            .output()
            .unwrap();
        let code = o.status.code();
        assert!(code == Some(0) || code == Some(2), "{text:?}: {:?}", o);
        assert!(
            !String::from_utf8_lossy(&o.stderr).contains("panicked"),
            "{text:?}"
        );
    }
    let o = bin()
        .args(["explain", "--run", run, "(^_^)"])
        .output()
        .unwrap();
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(
        out.contains("prediction") && out.contains("contribution"),
        "{out}"
    );
    // The rule's verdict, with its score recomputed here.
    let r = raw(&loaded());
    let vocab = Vocab::faces();
    let row = vocab
        .encode_padded("(^_^)", r.config().n_ctx, PadSide::Left)
        .unwrap()
        .ids;
    let score = face_interp::rule::AttentionRule::from_raw(&r, face_interp::rule::DEFAULT_WINDOW)
        .score(&row);
    assert!(
        out.contains(&format!("score {score:+.4}")),
        "{score} not in {out}"
    );
    assert_eq!(out.matches("rule: ").count(), r.config().n_ctx, "{out}");
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap().flatten() {
        let p = e.path();
        let t = to.join(e.file_name());
        if p.is_dir() {
            copy_dir(&p, &t);
        } else {
            std::fs::copy(&p, &t).unwrap();
        }
    }
}

/// `explain` and `predict` return a value or an error for any string, never a panic.
#[test]
fn any_string_is_explained_or_refused_without_panic() {
    use rand::{Rng, SeedableRng};
    let run = loaded();
    let r = raw(&run);
    let vocab = Vocab::faces();
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(11);
    let pool: Vec<char> = "(^_^)¯\\ツ/°□╯ab \u{301}\u{200b}\u{feff}\u{7}é\u{10ffff}\u{e000}"
        .chars()
        .collect();
    for _ in 0..3000 {
        let len = rng.random_range(0..40);
        let s: String = (0..len)
            .map(|_| {
                if rng.random_bool(0.1) {
                    char::from_u32(rng.random_range(0..0x11_0000)).unwrap_or('x')
                } else {
                    pool[rng.random_range(0..pool.len())]
                }
            })
            .collect();
        let e = face_interp::explain::explain(&r, &vocab, &s, PadSide::Right, None);
        let p = face_interp::predict::predict(&r, &vocab, &[s.as_str()], PadSide::Left);
        // predict scores every line (an empty one as all PAD); explain refuses only a
        // string with nothing left after canonicalisation.
        assert_eq!(e.is_ok(), !face_data::canonicalize(&s).is_empty(), "{s:?}");
        assert!(p.unwrap().logits[0].is_finite(), "{s:?}");
    }
}

#[test]
fn patch_and_explain_method_commands_print_their_tables() {
    let run = fixture().to_str().unwrap();
    let o = bin()
        .args(["patch", "--run", run, "(^_^)", "(^x^)"])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let out = String::from_utf8_lossy(&o.stdout);
    for site in face_interp::causal::SITES {
        let line = out
            .lines()
            .find(|l| l.starts_with(site.as_str()))
            .unwrap_or_else(|| panic!("no row for {site:?} in {out}"));
        assert_eq!(line.split_whitespace().count(), 1 + 12, "{line}");
    }
    // The embedding patch at the edited position restores the clean logit exactly.
    let embed = out.lines().find(|l| l.starts_with("hook_embed")).unwrap();
    let vals: Vec<f64> = embed
        .split_whitespace()
        .skip(1)
        .map(|v| v.parse().unwrap())
        .collect();
    assert!((vals[9] - 1.0).abs() < 1e-3, "{embed}");
    assert!(
        vals.iter()
            .enumerate()
            .all(|(p, v)| p == 9 || v.abs() < 1e-9),
        "{embed}"
    );
    for m in ["ig", "saliency", "occlusion", "exact"] {
        let o = bin()
            .args(["explain", "--run", run, "--method", m, "(^_^)"])
            .output()
            .unwrap();
        assert!(
            o.status.success(),
            "{m}: {}",
            String::from_utf8_lossy(&o.stderr)
        );
        assert!(
            String::from_utf8_lossy(&o.stdout).contains("attribution"),
            "{m}"
        );
    }
    // Strings that do not fit n_ctx are refused with a clear error.
    let long = "(^_^)".repeat(10);
    assert_usage(
        &bin()
            .args(["patch", "--run", run, &long, "abc"])
            .output()
            .unwrap(),
        "n_ctx",
    );
}

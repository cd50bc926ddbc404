//! Seed sweeps: reproducible (two sweeps of one config give the same figures and
//! weights, and a seed's run equals that seed trained on its own), found by the report of
//! a run with the same config, and not by one with another config.
#![allow(clippy::unwrap_used)]

use std::path::{Path, PathBuf};
use std::process::Command;

use face_interp::report::{AnalyseOptions, Conclusion};
use face_interp::seeds::{SweepOptions, find, mark, sweep};
use face_model::Weights;
use face_train::{DeviceChoice, TrainConfig, TrainOptions};

fn config() -> TrainConfig {
    TrainConfig::load(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("../../configs/seed.toml"),
        &["data.n_examples=600".into()],
    )
    .unwrap()
}

fn options(out: &Path) -> SweepOptions {
    let mut o = SweepOptions::new(2, out);
    o.analyse = AnalyseOptions {
        slice_size: 150,
        causal_size: 60,
        exhaustive_len: 3,
        seeds_dir: Some(PathBuf::new()),
        ..AnalyseOptions::default()
    };
    o.common_size = 100;
    o
}

fn weights(dir: &Path) -> Weights {
    let r = face_train::load_run(dir, &face_model::device::flex()).unwrap();
    Weights::from_model(&r.checkpoint.model)
}

#[test]
fn a_sweep_is_reproducible_and_found_by_its_config() {
    let tmp = tempfile::tempdir().unwrap();
    let cfg = config();
    let (a_dir, b_dir) = (tmp.path().join("a/sweep"), tmp.path().join("b/sweep"));
    let a = sweep(&cfg, &options(&a_dir)).unwrap();
    let mut o = options(&b_dir);
    o.parallel = 1; // sequential this time: same result
    let b = sweep(&cfg, &o).unwrap();
    assert_eq!(a.seeds, vec![cfg.seed, cfg.seed + 1]);
    assert_eq!(a.test_accuracy, b.test_accuracy);
    assert_eq!(a.conclusions, b.conclusions);
    assert_eq!(a.rule_agreement, b.rule_agreement);
    assert_eq!(a.model_agreement, b.model_agreement);
    let figures = |s: &face_interp::seeds::SweepSummary| {
        s.figures
            .iter()
            .map(|f| (f.key.clone(), f.name.clone(), f.values.clone()))
            .collect::<Vec<_>>()
    };
    assert_eq!(format!("{:?}", figures(&a)), format!("{:?}", figures(&b)));
    for seed in &a.seeds {
        let name = format!("seed-{seed}");
        assert_eq!(weights(&a_dir.join(&name)), weights(&b_dir.join(&name)));
    }
    // Seed + 1 of the sweep is that seed trained alone.
    let alone = tmp.path().join("alone");
    let mut t = TrainOptions::new(&alone);
    t.device = DeviceChoice::Cpu;
    face_train::train(
        &TrainConfig {
            seed: cfg.seed + 1,
            ..cfg.clone()
        },
        &t,
    )
    .unwrap();
    assert_eq!(
        weights(&alone),
        weights(&a_dir.join(format!("seed-{}", cfg.seed + 1)))
    );
    // Different seeds train different models, and the sweep says how alike they are.
    assert_ne!(
        weights(&a_dir.join(format!("seed-{}", cfg.seed))),
        weights(&alone)
    );
    assert_eq!(a.rule_agreement[0][0], 1.0);
    assert!(a.min_rule_agreement > 0.0 && a.min_rule_agreement <= 1.0);
    assert_eq!(a.rule_agreement[0][1], a.rule_agreement[1][0]);
    assert!(a.conclusions.iter().any(|c| c.key == "rule"));
    for c in &a.conclusions {
        assert_eq!(c.stable, c.holds == 2);
        assert_eq!(c.verdicts.len(), 2);
    }
    for f in &a.figures {
        assert_eq!(f.values.len(), 2);
        if f.values.iter().all(|v| v.is_finite()) {
            assert!(f.min <= f.mean && f.mean <= f.max, "{f:?}");
        }
    }
    // Written, and found by a config equal up to the seed (any seed of the sweep)...
    let json = std::fs::read_to_string(a_dir.join("seeds.json")).unwrap();
    assert!(json.contains("\"format\": \"face-seeds/1\""));
    assert!(a_dir.join("seeds.md").is_file());
    let root = tmp.path().join("a");
    let found = find(&root, &cfg).unwrap();
    assert_eq!(found.seeds, a.seeds);
    let second = TrainConfig {
        seed: cfg.seed + 1,
        ..cfg.clone()
    };
    assert!(find(&root, &second).is_some());
    // ... but not by another config, nor by a seed outside the sweep.
    let mut other = cfg.clone();
    other.train.epochs += 1;
    assert!(find(&root, &other).is_none());
    let outside = TrainConfig {
        seed: cfg.seed + 7,
        ..cfg.clone()
    };
    assert!(find(&root, &outside).is_none());
    assert!(find(Path::new(""), &cfg).is_none());

    // Marking: the first seed's own conclusions are stable exactly where the sweep says.
    let run = face_train::load_run(
        &a_dir.join(format!("seed-{}", cfg.seed)),
        &face_model::device::flex(),
    )
    .unwrap();
    let report = face_interp::report::analyse(&run, &a_dir, &options(&a_dir).analyse).unwrap();
    let mut concl: Vec<Conclusion> = report.conclusions.clone();
    mark(&mut concl, &a);
    for c in &concl {
        let s = c.stability.as_ref().unwrap();
        let sc = a.conclusions.iter().find(|x| x.key == c.key).unwrap();
        assert_eq!(s.stable, sc.stable, "{}", c.key);
        assert_eq!(s.n, 2);
    }
    // A wrong verdict is marked as holding on no seed.
    concl[0].verdict = "something else".into();
    mark(&mut concl, &a);
    let s = concl[0].stability.as_ref().unwrap();
    assert_eq!((s.holds, s.stable, s.otherwise.len()), (0, false, 2));
}

#[test]
fn seeds_command_refuses_bad_input() {
    let tmp = tempfile::tempdir().unwrap();
    let run = |args: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_face-interp"))
            .args(args)
            .output()
            .unwrap()
    };
    let out = tmp.path().join("out");
    let out_s = out.to_str().unwrap();
    // A sweep already there must survive every refused command untouched.
    std::fs::create_dir_all(&out).unwrap();
    std::fs::write(out.join("seeds.json"), "sentinel").unwrap();
    for (args, needle) in [
        (
            vec!["seeds", "--config", "configs/nope.toml", "--out", out_s],
            "nope.toml",
        ),
        (
            vec![
                "seeds",
                "--config",
                "../../configs/seed.toml",
                "--n",
                "0",
                "--out",
                out_s,
            ],
            "--n",
        ),
        (
            vec![
                "seeds",
                "--config",
                "../../configs/seed.toml",
                "--n",
                "100000",
                "--out",
                out_s,
            ],
            "--n",
        ),
        (
            vec![
                "seeds",
                "--config",
                "../../configs/seed.toml",
                "--set",
                "train.epochs=0",
                "--out",
                out_s,
            ],
            "epochs",
        ),
        (
            vec![
                "seeds",
                "--config",
                "../../configs/seed.toml",
                "--parallel",
                "0",
                "--out",
                out_s,
            ],
            "--parallel",
        ),
    ] {
        let o = run(&args);
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {err}");
        assert!(err.contains(needle), "{args:?}: {err}");
        assert_eq!(err.trim_end().lines().count(), 1, "{args:?}: {err}");
        assert_eq!(
            std::fs::read_to_string(out.join("seeds.json")).unwrap(),
            "sentinel"
        );
        assert_eq!(std::fs::read_dir(&out).unwrap().count(), 1, "{args:?}");
    }
}

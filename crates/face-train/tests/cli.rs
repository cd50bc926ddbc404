//! The binary: bad input is one line on stderr, exit code 2 and no file changed; piped
//! output has one line per epoch and split.
// Helpers outside #[test] fns unwrap too: a failed fixture is a failed test.
#![allow(clippy::unwrap_used)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn bin() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_face-train"));
    c.current_dir(Path::new(env!("CARGO_MANIFEST_DIR")).join("../.."));
    c
}

fn seed_config() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../configs/seed.toml")
}

fn run(args: &[&str]) -> Output {
    bin().args(args).output().expect("the binary runs")
}

/// Every file under `dir` with its bytes (empty when `dir` is missing).
fn snapshot(dir: &Path) -> BTreeMap<PathBuf, Vec<u8>> {
    let mut out = BTreeMap::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(rd) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in rd.flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else {
                out.insert(p.clone(), std::fs::read(&p).unwrap());
            }
        }
    }
    out
}

fn assert_usage_error(o: &Output, needle: &str) {
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "stderr: {err}");
    assert!(
        err.to_lowercase().contains(&needle.to_lowercase()),
        "expected {needle:?} in: {err}"
    );
    assert_eq!(
        err.trim_end().lines().count(),
        1,
        "error is not one line: {err}"
    );
}

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap();
    p
}

const SMALL: &[&str] = &[
    "--set",
    "data.n_examples=200",
    "--batch-size",
    "20",
    "--device",
    "cpu",
];

#[test]
fn bad_configs_are_one_line_errors_and_write_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let base = std::fs::read_to_string(seed_config()).unwrap();
    let out = tmp.path().join("run");
    let outs = out.to_str().unwrap();
    let cases: Vec<(String, &str)> = vec![
        (
            base.replace("[train]", "[train]\nwarmup = 3"),
            "unknown field",
        ),
        (base.replace("epochs = 1", "epochs = \"one\""), "line"),
        (base.replace("epochs = 1", "epochs = 0"), "train.epochs"),
        (
            base.replace("\nbatch_size = 1\n", "\nbatch_size = 0\n"),
            "train.batch_size",
        ),
        (
            base.replace("task = \"seed\"", "task = \"faces\""),
            "unknown variant",
        ),
        (
            base.replace("learning_rate = 0.01", "learning_rate = -1.0"),
            "learning_rate",
        ),
        (base.replace("n_ctx = 12", "n_ctx = 5"), "n_ctx"),
        (
            base.replace("test_frac = 0.25", "test_frac = 1.5"),
            "test_frac",
        ),
        ("seed = [".to_string(), "line 1"),
    ];
    for (i, (text, needle)) in cases.iter().enumerate() {
        let cfg = write(tmp.path(), &format!("bad{i}.toml"), text);
        let o = run(&[
            "--config",
            cfg.to_str().unwrap(),
            "--out",
            outs,
            "--device",
            "cpu",
        ]);
        assert_usage_error(&o, needle);
        assert!(!out.exists(), "case {i} created the run directory");
    }
    // Overrides and command-line values.
    let seed = seed_config();
    let seed = seed.to_str().unwrap();
    for (args, needle) in [
        (vec!["--set", "train.epochs=0"], "train.epochs"),
        (vec!["--set", "train.nope=1"], "unknown field"),
        (vec!["--set", "noequals"], "field=value"),
        (vec!["--epochs", "0"], "train.epochs"),
        (vec!["--device", "tpu"], "invalid value"),
        (vec!["--set", "data.task=faces"], "unknown variant"),
    ] {
        let mut all = vec!["--config", seed, "--out", outs];
        all.extend(args);
        assert_usage_error(&run(&all), needle);
        assert!(!out.exists());
    }
    let missing = tmp.path().join("missing.toml");
    assert_usage_error(
        &run(&["--config", missing.to_str().unwrap(), "--out", outs]),
        "no such file",
    );
    let invalid = tmp.path().join("latin1.toml");
    std::fs::write(&invalid, b"seed = 1 # \xff\n").unwrap();
    assert_usage_error(
        &run(&["--config", invalid.to_str().unwrap(), "--out", outs]),
        "utf-8",
    );
    assert!(!out.exists());
}

#[test]
fn run_directory_conflicts_are_refused_without_changes() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("run");
    let outs = out.to_str().unwrap();
    let seed = seed_config();
    let seed = seed.to_str().unwrap();
    let mut args = vec!["--config", seed, "--out", outs];
    args.extend_from_slice(SMALL);
    let first = run(&args);
    assert!(
        first.status.success(),
        "{}",
        String::from_utf8_lossy(&first.stderr)
    );
    let before = snapshot(&out);

    // The same config again: nothing to do, nothing changed.
    let again = run(&args);
    assert!(again.status.success());
    assert!(String::from_utf8_lossy(&again.stdout).contains("nothing to do"));
    assert_eq!(snapshot(&out), before);

    // A different config, trained or resumed into it: refused.
    let mut other = args.clone();
    other.extend(["--seed", "9"]);
    assert_usage_error(&run(&other), "holds a different run");
    assert_eq!(snapshot(&out), before);
    let mut other_resume = other.clone();
    other_resume.push("--resume");
    assert_usage_error(&run(&other_resume), "cannot resume");
    assert_eq!(snapshot(&out), before);

    // A directory that is not a run, even with --overwrite.
    let stranger = tmp.path().join("stranger");
    std::fs::create_dir(&stranger).unwrap();
    std::fs::write(stranger.join("notes.txt"), "mine").unwrap();
    let mut s = vec![
        "--config",
        seed,
        "--out",
        stranger.to_str().unwrap(),
        "--overwrite",
    ];
    s.extend_from_slice(SMALL);
    assert_usage_error(&run(&s), "no face-train run");
    assert_eq!(
        std::fs::read_to_string(stranger.join("notes.txt")).unwrap(),
        "mine"
    );

    // Resuming nothing.
    let empty = tmp.path().join("empty");
    let mut r = vec![
        "--config",
        seed,
        "--out",
        empty.to_str().unwrap(),
        "--resume",
    ];
    r.extend_from_slice(SMALL);
    assert_usage_error(&run(&r), "no run to resume");

    // --overwrite replaces the different run.
    let mut ow = other.clone();
    ow.push("--overwrite");
    let o = run(&ow);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(
        std::fs::read_to_string(out.join("config.toml"))
            .unwrap()
            .contains("seed = 9")
    );
}

#[test]
fn piped_output_has_one_line_per_epoch_and_split() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("run");
    let seed = seed_config();
    let mut args = vec![
        "--config",
        seed.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
        "--epochs",
        "3",
    ];
    args.extend_from_slice(SMALL);
    let o = run(&args);
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    for split in ["train", "valid"] {
        let lines: Vec<&str> = stdout
            .lines()
            .filter(|l| l.starts_with("epoch ") && l.contains(&format!(" {split} ")))
            .collect();
        assert_eq!(lines.len(), 3, "{split} lines in:\n{stdout}");
        for (i, l) in lines.iter().enumerate() {
            assert!(l.starts_with(&format!("epoch {}/3", i + 1)), "{l}");
            assert!(
                l.contains("loss ") && l.contains("accuracy ") && l.contains("recall "),
                "{l}"
            );
            assert!(!l.contains("NaN"), "{l}");
        }
    }
    // No per-batch debug lines, and a summary with accuracy, time and device.
    assert!(!stdout.contains("ProgressSnapshot"), "{stdout}");
    let last = stdout.lines().last().unwrap_or_default();
    assert!(
        last.starts_with("done: test accuracy") && last.contains("flex"),
        "{last}"
    );
}

/// SIGKILL at an arbitrary moment after the first checkpoint: the directory loads (the
/// last complete epoch), and `--resume` finishes with the weights of an uninterrupted run.
#[test]
fn a_killed_run_stays_loadable_and_resumes_to_the_same_weights() {
    let tmp = tempfile::tempdir().unwrap();
    let seed = seed_config();
    let seed = seed.to_str().unwrap();
    let killed = tmp.path().join("killed");
    let whole = tmp.path().join("whole");
    let args = |out: &Path| -> Vec<String> {
        [
            "--config",
            seed,
            "--out",
            out.to_str().unwrap(),
            "--epochs",
            "30",
            "--batch-size",
            "10",
            "--device",
            "cpu",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect()
    };
    let mut child = bin()
        .args(args(&killed))
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let ckpt = killed.join("checkpoint");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(120);
    while face_train::checkpointer::latest_complete(&ckpt).is_none()
        && std::time::Instant::now() < deadline
    {
        std::thread::sleep(std::time::Duration::from_millis(2));
    }
    assert!(
        face_train::checkpointer::latest_complete(&ckpt).is_some(),
        "no complete checkpoint within the deadline"
    );
    std::thread::sleep(std::time::Duration::from_millis(37));
    child.kill().unwrap();
    let status = child.wait().unwrap();
    let flex = face_model::device::flex();
    let partial = face_train::load_run(&killed, &flex).expect("a killed run loads");
    if !status.success() {
        assert!(!partial.complete && partial.epoch >= 1, "{}", partial.epoch);
    }
    let mut resume = args(&killed);
    resume.push("--resume".into());
    let o = bin().args(&resume).output().unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let o = bin().args(args(&whole)).output().unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let w = |d: &Path| {
        face_model::Weights::from_model(&face_train::load_run(d, &flex).unwrap().checkpoint.model)
    };
    assert_eq!(w(&killed), w(&whole));
}

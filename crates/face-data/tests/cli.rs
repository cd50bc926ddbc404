//! The `face-data` binary: commands work, bad input exits 2 with a one-line error and
//! leaves no file behind.

use std::path::PathBuf;
use std::process::{Command, Output};

fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_face-data"))
}

fn run(args: &[&str]) -> Output {
    bin().args(args).output().expect("the binary runs")
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn tmp(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("face-data-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    dir.join(name)
}

#[test]
fn charset_prints_90_characters() {
    let o = run(&["charset"]);
    assert!(o.status.success());
    let line = stdout(&o);
    let line = line.strip_suffix('\n').expect("one line");
    assert_eq!(line.chars().count(), 90);
    assert_eq!(line, face_data::charset().iter().collect::<String>());
}

#[test]
fn faces_lists_all_81_in_both_formats() {
    let o = run(&["faces", "--format", "tsv"]);
    assert!(o.status.success());
    assert_eq!(stdout(&o).lines().count(), 82, "header + 81");
    let o = run(&["faces", "--format", "json"]);
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).expect("json");
    assert_eq!(v.as_array().map(Vec::len), Some(81));
    let grumpy = v
        .as_array()
        .and_then(|a| a.iter().find(|r| r["name"] == "grumpy"))
        .expect("grumpy listed");
    assert_eq!(grumpy["face"], "(-_-メ)");
    assert_eq!(grumpy["raw"], "(－_－メ)");
}

#[test]
fn sample_is_deterministic_and_check_accepts_it() {
    let a = run(&[
        "sample", "--task", "embedded", "--n", "2000", "--seed", "7", "--n-ctx", "16",
    ]);
    let b = run(&[
        "sample", "--task", "embedded", "--n", "2000", "--seed", "7", "--n-ctx", "16",
    ]);
    assert!(a.status.success(), "{}", stderr(&a));
    assert_eq!(a.stdout, b.stdout);
    assert!(stderr(&a).contains("re-drawn"));
    for line in stdout(&a).lines() {
        let v: serde_json::Value = serde_json::from_str(line).expect("jsonl");
        let text = v["text"].as_str().expect("text");
        assert!(text.chars().count() <= 16);
        assert_eq!(v["label"] == 1, face_data::contains_face(text));
    }
    let path = tmp("s.tsv");
    let o = run(&[
        "sample",
        "--n",
        "500",
        "--format",
        "tsv",
        "--out",
        path.to_str().expect("utf8"),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let o = run(&["check", path.to_str().expect("utf8")]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stdout(&o).contains("500 examples") && stdout(&o).contains("label mismatches: 0"));
}

#[test]
fn check_counts_mismatches_and_unknown_characters() {
    let path = tmp("bad.jsonl");
    std::fs::write(
        &path,
        "{\"text\":\"(^_^)\",\"label\":0}\n{\"text\":\"abc\",\"label\":1}\n{\"text\":\"xyQ\",\"label\":0}\n",
    )
    .expect("write");
    let o = run(&["check", path.to_str().expect("utf8")]);
    assert_eq!(o.status.code(), Some(1));
    let s = stdout(&o);
    assert!(s.contains("label mismatches: 2"), "{s}");
    assert!(s.contains("out-of-charset characters: 5 on 2 lines"), "{s}");
}

#[test]
fn bad_input_exits_2_with_a_named_error_and_no_file() {
    let cases: Vec<(Vec<&str>, &str)> = vec![
        (vec!["sample", "--n", "0"], "--n 0"),
        (
            vec!["sample", "--n", "5", "--face-prob", "-0.5"],
            "face_prob",
        ),
        (
            vec!["sample", "--n", "5", "--face-prob", "1.5"],
            "face_prob",
        ),
        (vec!["sample", "--n", "5", "--n-ctx", "8"], "n_ctx"),
        (vec!["sample", "--n", "5", "--task", "nope"], "nope"),
        (vec!["sample", "--n", "-5"], "-5"),
        (vec!["sample", "--n", "5", "--face-prob", "abc"], "abc"),
        (vec!["sample", "--n", "5", "--n-ctx", "99999"], "n_ctx"),
    ];
    for (args, needle) in cases {
        let out = tmp("never.jsonl");
        let mut full = args.clone();
        full.extend(["--out", out.to_str().expect("utf8")]);
        let o = run(&full);
        assert_eq!(o.status.code(), Some(2), "{args:?}");
        assert!(stderr(&o).contains(needle), "{args:?}: {}", stderr(&o));
        assert_eq!(
            stderr(&o).lines().count(),
            1,
            "{args:?}: one-line error: {}",
            stderr(&o)
        );
        assert!(!out.exists(), "{args:?} left a file");
    }
    let path = tmp("latin1.tsv");
    std::fs::write(&path, b"1\t(^_^)\n0\tcaf\xe9\n").expect("write");
    let o = run(&["check", path.to_str().expect("utf8")]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains(":2: invalid UTF-8"), "{}", stderr(&o));
    assert_eq!(stderr(&o).lines().count(), 1, "one-line error");
    let o = run(&["check", "/nonexistent/file.tsv"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("/nonexistent/file.tsv"));
}

//! Run directories: round trip, safetensors contents, and every bad-checkpoint case.

mod common;

use std::path::{Path, PathBuf};

use burn::prelude::*;
use common::*;
use face_data::{GenConfig, Padding, Vocab};
use face_model::checkpoint::{self, weights_from_safetensors};
use face_model::{Checkpoint, CheckpointError, DataSpec, Weights};

fn tmpdir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("face-model-ckpt-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).expect("temp dir");
    d
}

fn sample_checkpoint(seed: u64) -> Checkpoint {
    let cfg = default_config();
    Checkpoint {
        model: random_model(&cfg, seed),
        config: cfg,
        vocab: Vocab::faces(),
        data: DataSpec {
            generator: GenConfig::default(),
            seed,
            n_examples: 1000,
            test_frac: 0.25,
            held_out_frac: 0.0,
            split_seed: 0,
            padding: Padding::Random,
        },
    }
}

fn saved(name: &str) -> PathBuf {
    let run = tmpdir(name).join("run");
    checkpoint::save(&run, &sample_checkpoint(1)).expect("save");
    run
}

fn load_err(dir: &Path) -> CheckpointError {
    checkpoint::load(dir, &Device::flex()).expect_err("load must fail")
}

#[test]
fn round_trip_keeps_weights_config_vocab_and_data() {
    let run = saved("roundtrip");
    let original = sample_checkpoint(1);
    let back = checkpoint::load(&run, &Device::flex()).expect("load");
    assert_eq!(
        Weights::from_model(&back.model),
        Weights::from_model(&original.model)
    );
    assert_eq!(back.config, original.config);
    assert_eq!(back.vocab, original.vocab);
    assert_eq!(back.data, original.data);
    // safetensors: TransformerLens names, stated orientation, same numbers.
    let bytes = std::fs::read(run.join("model.safetensors")).expect("read");
    let w = weights_from_safetensors(&original.config, &bytes).expect("parse");
    assert_eq!(w, Weights::from_model(&original.model));
    let (_, meta) = safetensors::SafeTensors::read_metadata(&bytes).expect("header");
    let meta = meta.metadata().clone().expect("metadata");
    assert!(meta["orientation"].starts_with("x @ W + b"));
    let st = safetensors::SafeTensors::deserialize(&bytes).expect("parse");
    let mut names = st.names();
    names.sort_unstable();
    assert_eq!(
        names,
        [
            "W_E", "W_K", "W_Q", "W_U", "W_V", "b_K", "b_Q", "b_U", "b_V"
        ]
    );
    assert_eq!(st.tensor("W_U").expect("W_U").shape(), [12, 10]);
    // Saving again over an existing run replaces it and leaves no temporary directory.
    checkpoint::save(&run, &sample_checkpoint(2)).expect("overwrite");
    let again = checkpoint::load(&run, &Device::flex()).expect("load");
    assert_eq!(again.data.seed, 2);
    let parent = run.parent().expect("parent");
    let entries: Vec<_> = std::fs::read_dir(parent).expect("ls").collect();
    assert_eq!(entries.len(), 1, "only the run directory remains");
}

#[test]
fn a_missing_directory_or_file_is_named() {
    let err = load_err(Path::new("/nonexistent/run"));
    assert!(matches!(err, CheckpointError::MissingFile { .. }), "{err}");
    for file in [
        "manifest.json",
        "model_config.json",
        "vocab.json",
        "model.bpk",
        "model.safetensors",
        "data.json",
    ] {
        let run = saved(&format!("missing-{file}"));
        std::fs::remove_file(run.join(file)).expect("rm");
        let err = load_err(&run);
        assert!(
            matches!(&err, CheckpointError::MissingFile { path } if path.ends_with(file)),
            "{file}: {err}"
        );
        assert!(err.to_string().contains(file));
    }
}

#[test]
fn truncated_and_corrupt_weight_files_are_named() {
    for file in ["model.bpk", "model.safetensors"] {
        let run = saved(&format!("trunc-{file}"));
        let p = run.join(file);
        let b = std::fs::read(&p).expect("read");
        std::fs::write(&p, &b[..b.len() / 2]).expect("truncate");
        let err = load_err(&run);
        assert!(
            matches!(&err, CheckpointError::Corrupt { path, .. } if path.ends_with(file)),
            "{err}"
        );
        assert!(err.to_string().contains("truncated"), "{err}");

        // Same size, one flipped byte near the end (inside the weights).
        let run = saved(&format!("flip-{file}"));
        let p = run.join(file);
        let mut b = std::fs::read(&p).expect("read");
        let i = b.len() - 3;
        b[i] ^= 0x40;
        std::fs::write(&p, &b).expect("write");
        let err = load_err(&run);
        assert!(
            matches!(&err, CheckpointError::Corrupt { path, .. } if path.ends_with(file)),
            "{err}"
        );
    }
    let run = saved("garbage-st");
    let p = run.join("model.safetensors");
    let n = std::fs::metadata(&p).expect("stat").len() as usize;
    std::fs::write(&p, vec![0xffu8; n]).expect("write");
    let err = load_err(&run);
    assert!(
        err.to_string().contains("model.safetensors") && err.to_string().contains("corrupt"),
        "{err}"
    );
}

fn rewrite_keeping_size(p: &Path, from: &str, to: &str) {
    let text = std::fs::read_to_string(p).expect("read");
    assert!(text.contains(from), "{from} in {}", p.display());
    let mut new = text.replacen(from, to, 1);
    // Keep the byte count so the size check passes and the semantic check is what fails.
    while new.len() < text.len() {
        new.push(' ');
    }
    assert_eq!(new.len(), text.len());
    std::fs::write(p, new).expect("write");
}

#[test]
fn config_and_weights_that_disagree_are_a_mismatch() {
    let run = saved("cfg-mismatch");
    rewrite_keeping_size(
        &run.join("model_config.json"),
        "\"d_model\": 10",
        "\"d_model\": 8",
    );
    let err = load_err(&run);
    let msg = err.to_string();
    assert!(matches!(err, CheckpointError::Mismatch { .. }), "{msg}");
    assert!(
        msg.contains("W_E") && msg.contains("[92, 10]") && msg.contains("[92, 8]"),
        "{msg}"
    );
    assert!(msg.contains("model_config.json"), "{msg}");
    assert!(msg.contains("changed after the run was written"), "{msg}");
}

#[test]
fn saving_parts_that_disagree_is_refused() {
    let dir = tmpdir("save-mismatch").join("run");
    let mut c = sample_checkpoint(3);
    c.config = c.config.clone().with_scale(false);
    let err = checkpoint::save(&dir, &c).expect_err("scale differs");
    assert!(matches!(err, CheckpointError::Mismatch { .. }), "{err}");
    let mut c = sample_checkpoint(3);
    c.vocab = Vocab::new(vec!['a', 'b']).expect("vocab");
    let err = checkpoint::save(&dir, &c).expect_err("vocab size differs");
    assert!(err.to_string().contains("d_vocab"), "{err}");
    assert!(!dir.exists(), "nothing written");
}

#[test]
fn a_vocabulary_of_the_wrong_size_is_a_mismatch() {
    let run = saved("vocab-mismatch");
    let p = run.join("vocab.json");
    let text = std::fs::read_to_string(&p).expect("read");
    // Drop the last character entry (`"￣"`) and pad to the same size.
    let cut = text.replacen(",\n    \"￣\"", "", 1);
    assert_ne!(cut, text);
    let padded = format!("{cut}{}", " ".repeat(text.len() - cut.len()));
    std::fs::write(&p, padded).expect("write");
    let err = load_err(&run);
    let msg = err.to_string();
    assert!(
        matches!(&err, CheckpointError::Mismatch { path, .. } if path.ends_with("vocab.json")),
        "{msg}"
    );
    assert!(
        msg.contains("91 ids") && msg.contains("d_vocab = 92"),
        "{msg}"
    );
}

//! Labels are right on 100k examples per task, and generation is deterministic.

use std::collections::hash_map::DefaultHasher;
use std::hash::{Hash, Hasher};

use face_data::{Dataset, FacePool, GenConfig, Task, contains_face, generate};

fn hash(d: &Dataset) -> u64 {
    let mut h = DefaultHasher::new();
    for e in &d.examples {
        e.text.hash(&mut h);
        e.label.hash(&mut h);
    }
    h.finish()
}

fn cfg(task: Task) -> GenConfig {
    GenConfig {
        task,
        n_ctx: if task == Task::Embedded { 20 } else { 12 },
        ..GenConfig::default()
    }
}

#[test]
fn every_label_equals_contains_face_on_100k_examples_per_task() -> face_data::Result<()> {
    for task in [Task::Seed, Task::Embedded] {
        let d = generate(&cfg(task), FacePool::All, 100_000, 11)?;
        let wrong = d
            .examples
            .iter()
            .filter(|e| e.label != contains_face(&e.text))
            .count();
        assert_eq!(wrong, 0, "{task:?}: {wrong} wrong labels");
        assert_eq!(d.stats.positives + d.stats.negatives, 100_000);
        eprintln!(
            "{task:?}: {} negatives re-drawn in 100k",
            d.stats.redrawn_negatives
        );
    }
    Ok(())
}

#[test]
fn redraws_happen_and_are_counted_when_faces_are_likely() -> face_data::Result<()> {
    // Over the full charset an accidental face is rare (~1e-8 per position), so use a
    // narrow filler alphabet in which `(:P)` and `(-:)` turn up often.
    let c = GenConfig {
        face_prob: 0.0,
        filler: Some("(:P)-".into()),
        ..GenConfig::default()
    };
    let d = generate(&c, FacePool::All, 20_000, 5)?;
    assert!(
        d.examples
            .iter()
            .all(|e| !e.label && !contains_face(&e.text))
    );
    assert_eq!(d.stats.negatives, 20_000);
    // P(a given 4-char window is "(:P)" or "(-:)") = 2/625; with 3-10 chars that is
    // about 1.4% of strings, i.e. ~280 redraws expected.
    let r = d.stats.redrawn_negatives;
    assert!((100..1000).contains(&r), "{r} redraws");
    Ok(())
}

#[test]
fn same_seed_same_hash_other_seed_other_hash() -> face_data::Result<()> {
    for task in [Task::Seed, Task::Embedded] {
        let a = generate(&cfg(task), FacePool::All, 10_000, 3)?;
        let b = generate(&cfg(task), FacePool::All, 10_000, 3)?;
        let c = generate(&cfg(task), FacePool::All, 10_000, 4)?;
        assert_eq!(hash(&a), hash(&b));
        assert_eq!(a.stats, b.stats);
        assert_ne!(hash(&a), hash(&c));
        // A longer run extends a shorter one.
        let short = generate(&cfg(task), FacePool::All, 100, 3)?;
        assert_eq!(short.examples[..], a.examples[..100]);
    }
    Ok(())
}

/// FNV-1a 64 of the JSONL text: stable across Rust releases, unlike `DefaultHasher`.
fn fnv_jsonl(d: &Dataset) -> u64 {
    let mut buf = Vec::new();
    for e in &d.examples {
        face_data::io::write_record(&mut buf, face_data::io::Format::Jsonl, &e.text, e.label)
            .expect("in-memory write");
    }
    face_data::io::fnv1a64(&buf)
}

/// Pinned output for seed 0: a change to `rand`, the random streams or the generator's
/// draw order shows up here (and means datasets of earlier runs can no longer be rebuilt).
#[test]
fn seed_0_output_is_pinned() -> face_data::Result<()> {
    let got: Vec<u64> = [Task::Seed, Task::Embedded]
        .iter()
        .map(|&t| generate(&cfg(t), FacePool::All, 1000, 0).map(|d| fnv_jsonl(&d)))
        .collect::<face_data::Result<_>>()?;
    eprintln!("pinned hashes: {got:x?}");
    assert_eq!(got, PINNED);
    Ok(())
}

const PINNED: [u64; 2] = [0x5f26_9cda_45f4_2061, 0xc919_7f3d_c244_3eb1];

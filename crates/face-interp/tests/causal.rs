//! Ablation and patching: no-ops change nothing, and on a planted model whose mechanism
//! is known the analyses single out the planted sites.
#![allow(clippy::unwrap_used)]

use face_data::{PadSide, Vocab};
use face_interp::causal::{self, Ablation, SITES};
use face_model::batch::tokens_from_ids;
use face_model::{FaceModel, FaceModelConfig, HookName, Intervention, Positions};

mod common;

const N_CTX: usize = 6;

/// d_model 2, n_ctx 6. Only `(` and `)` have a non-zero embedding ([1, 0]); Q and K are
/// zero, so attention is uniform over all 6 keys; V is the identity and every readout row
/// is [1, 0]. So logit = (number of brackets) − 1.5: "a face" iff at least 2 brackets.
fn planted() -> (FaceModel, Vocab) {
    let (cfg, w, vocab) = common::counting(N_CTX);
    (w.to_model(&cfg, &face_model::device::flex()), vocab)
}

fn ids(vocab: &Vocab, texts: &[&str]) -> Vec<u32> {
    texts
        .iter()
        .flat_map(|t| vocab.encode_padded(t, N_CTX, PadSide::Left).unwrap().ids)
        .collect()
}

#[test]
fn the_planted_model_computes_its_rule() {
    let (m, vocab) = planted();
    let t = tokens_from_ids(
        &ids(&vocab, &["(ab)", "xab)", "((", "abc"]),
        N_CTX,
        &face_model::device::flex(),
    );
    let z = causal::logits_with(&m, t, Vec::new());
    let want = [0.5, -0.5, 0.5, -1.5];
    for (a, b) in z.iter().zip(want) {
        assert!((a - b).abs() < 1e-5, "{z:?}");
    }
}

#[test]
fn no_intervention_and_self_patching_change_nothing() {
    let (m, vocab) = planted();
    let dev = face_model::device::flex();
    let t = tokens_from_ids(&ids(&vocab, &["(ab)", "xab)", "((", "a(b"]), N_CTX, &dev);
    let plain: Vec<f32> = m.forward(t.clone()).logit.into_data().try_to_vec().unwrap();
    assert_eq!(causal::logits_with(&m, t.clone(), Vec::new()), plain);
    let own = causal::cache(&m, t.clone());
    for site in HookName::ALL {
        let z = causal::logits_with(
            &m,
            t.clone(),
            vec![Intervention::patch(site, Positions::All, &own)],
        );
        for (a, b) in z.iter().zip(&plain) {
            assert!((a - b).abs() < 1e-6, "{site:?}: {a} vs {b}");
        }
    }
    // Patching a pair with itself: every effect is 0 (clean = corrupt).
    let same = ids(&vocab, &["(ab)"]);
    let eff = causal::patching(&m, &same, &same);
    assert!(eff.iter().flatten().flatten().all(|&e| e == 0.0));
}

#[test]
fn patching_singles_out_the_planted_site_and_position() {
    let (m, vocab) = planted();
    // Clean "(ab)" (2 brackets) vs corrupt "xab)" (1): they differ at padded position 2.
    let eff = causal::patching(&m, &ids(&vocab, &["(ab)"]), &ids(&vocab, &["xab)"]));
    for (s, site) in SITES.iter().enumerate() {
        for (p, per_pair) in eff[s].iter().enumerate() {
            let e = per_pair[0];
            let want = match site {
                HookName::Embed | HookName::V if p == 2 => 1.0,
                HookName::Embed | HookName::V => 0.0,
                // Uniform attention spreads the bracket over every position's z.
                HookName::Z => 1.0 / N_CTX as f64,
                _ => 0.0,
            };
            assert!(
                (e - want).abs() < 1e-4,
                "{site:?} pos {p}: {e} (want {want})"
            );
        }
    }
}

#[test]
fn ablations_find_the_planted_path_and_ignore_the_dead_one() {
    let (m, vocab) = planted();
    let texts = ["(ab)", "xab)", "((", "abc", "a()b", ")x", "((()", "zz"];
    let labels: Vec<bool> = texts
        .iter()
        .map(|t| t.chars().filter(|c| "()".contains(*c)).count() >= 2)
        .collect();
    let i = ids(&vocab, &texts);
    let res = causal::ablations(&m, "planted", &i, &labels, &i);
    let get = |site: HookName, kind: Ablation| {
        res.iter()
            .find(|r| r.site == site.as_str() && r.kind == kind)
            .unwrap()
    };
    // Q and K carry nothing (they are zero), so no ablation of them changes anything.
    for site in [HookName::Q, HookName::K] {
        for kind in [Ablation::Zero, Ablation::Mean, Ablation::Resample] {
            let r = get(site, kind);
            assert!(r.d_bce.abs() < 1e-6 && r.d_accuracy == 0.0, "{r:?}");
        }
    }
    // The pattern is already uniform: the uniform ablation is a no-op.
    assert!(get(HookName::Pattern, Ablation::Uniform).d_bce.abs() < 1e-6);
    // The embedding, V and z carry the rule: zeroing them breaks it.
    for site in [HookName::Embed, HookName::V, HookName::Z] {
        let r = get(site, Ablation::Zero);
        assert!(r.d_bce > 0.1 && r.d_accuracy < 0.0, "{r:?}");
    }
    // Zero and mean ablation of the embedding disagree by more than 0.1 BCE here.
    let flagged = causal::disagreements(&res, 0.1);
    assert!(
        flagged
            .iter()
            .any(|(_, s, _)| s == HookName::Embed.as_str()),
        "{flagged:?}"
    );
    assert!(!flagged.iter().any(|(_, s, _)| s == HookName::Q.as_str()));
}

#[test]
fn attribution_methods_rank_the_planted_positions_first() {
    use face_interp::attribution::{self, Baseline, Method};
    let (m, vocab) = planted();
    let i = ids(&vocab, &["(ab)", "x(y)z", "a(("]);
    // Brackets sit at these padded positions (left padding to 6).
    let brackets: Vec<Vec<usize>> = vec![vec![2, 5], vec![2, 4], vec![4, 5]];
    let (sal, ixg) = attribution::gradient_methods(&m, &i);
    let (igp, errp) = attribution::integrated_gradients(&m, &i, Baseline::Pad, 16);
    let (igm, errm) = attribution::integrated_gradients(&m, &i, Baseline::Mean, 16);
    let occ = attribution::occlusion(&m, &i);
    let exact = attribution::exact_ablation(&m, &i);
    assert!(
        errp.iter().chain(&errm).all(|e| *e < 1e-4),
        "{errp:?} {errm:?}"
    );
    let top2 = |a: &[f64]| {
        let mut idx: Vec<usize> = (0..a.len()).collect();
        idx.sort_by(|&x, &y| a[y].abs().total_cmp(&a[x].abs()));
        let mut t = idx[..2].to_vec();
        t.sort_unstable();
        t
    };
    for (name, attr) in [
        ("ixg", &ixg),
        ("ig_pad", &igp),
        ("ig_mean", &igm),
        ("occlusion", &occ),
        ("exact", &exact),
    ] {
        for (a, want) in attr.iter().zip(&brackets) {
            assert_eq!(&top2(a), want, "{name}: {a:?}");
        }
    }
    // Saliency is the same at every position here (attention is uniform and the
    // gradient does not depend on the token): it cannot rank the brackets.
    for a in &sal {
        assert!(a.iter().all(|x| (x - a[0]).abs() < 1e-6), "{a:?}");
    }
    let spans: Vec<Option<Vec<usize>>> = brackets.iter().cloned().map(Some).collect();
    let scores = attribution::benchmark(&m, &i, &spans, 16);
    let get = |meth: Method| scores.iter().find(|s| s.method == meth).unwrap();
    assert_eq!(get(Method::Exact).localisation, 1.0);
    assert_eq!(get(Method::IgPad).localisation, 1.0);
    assert!((get(Method::Occlusion).spearman - 1.0).abs() < 1e-9);
    assert!(get(Method::Saliency).spearman.is_nan() || get(Method::Saliency).spearman < 0.5);
}

#[test]
fn spearman_is_rank_correlation() {
    use face_interp::attribution::spearman;
    assert_eq!(spearman(&[1.0, 2.0, 3.0], &[10.0, 20.0, 30.0]), Some(1.0));
    assert_eq!(spearman(&[1.0, 2.0, 3.0], &[3.0, 2.0, 1.0]), Some(-1.0));
    assert_eq!(spearman(&[1.0, 1.0, 1.0], &[3.0, 2.0, 1.0]), None);
    let r = spearman(&[1.0, 2.0, 3.0, 4.0], &[1.0, 3.0, 2.0, 4.0]).unwrap();
    assert!((r - 0.8).abs() < 1e-12);
}

#[test]
fn position_ablation_finds_the_bracket_positions() {
    let (m, vocab) = planted();
    let texts = ["(abcd)", "xabcd)", "(abcdx", "xabcdy"];
    let labels = [true, false, false, false];
    let i = ids(&vocab, &texts);
    let res = causal::position_ablations(&m, &i, &labels, &i);
    // Rows: hook_embed, hook_v, hook_z. Only positions 0 and 5 ever hold a bracket.
    for (row, site) in res.iter().zip(causal::POSITION_SITES) {
        for (p, d) in row.iter().enumerate() {
            if site != HookName::Z && (1..5).contains(&p) {
                assert!(d.abs() < 1e-9, "{site:?} pos {p}: {d}");
            }
        }
        if site != HookName::Z {
            assert!(
                row[0].abs() > 1e-3 && row[5].abs() > 1e-3,
                "{site:?}: {row:?}"
            );
        }
    }
}

#[test]
fn exhaustive_check_agrees_on_the_planted_rule_and_finds_a_planted_disagreement() {
    use face_interp::rule::{AttentionRule, exhaustive};
    let (m, vocab) = planted();
    let raw = face_model::RawModel::new(&m_config(&vocab), face_model::Weights::from_model(&m));
    let alphabet: Vec<u32> = ['(', ')', 'a', 'b'].iter().map(|&c| vocab.id(c)).collect();
    let brackets = |t: &[u32]| {
        t.iter()
            .filter(|&&i| i == vocab.id('(') || i == vocab.id(')'))
            .count()
    };
    let truth = |t: &[u32]| brackets(t) >= 2;
    let rule = AttentionRule::from_raw(&raw, 1e-6);
    let r = exhaustive(
        &raw,
        &rule,
        &alphabet,
        N_CTX,
        &[PadSide::Left],
        Some(&truth),
        5,
        false,
    );
    assert_eq!(r.n, (1..=N_CTX as u32).map(|l| 4u64.pow(l)).sum::<u64>());
    assert_eq!(r.disagreements, 0, "{:?}", r.examples);
    assert_eq!(r.model_accuracy, Some(1.0));
    assert_eq!(r.predicted_errors, 0);
    // A rule with the wrong threshold says "face" at one bracket: exactly those strings.
    let wrong = rule.with_bias(-0.5);
    let r = exhaustive(
        &raw,
        &wrong,
        &alphabet,
        N_CTX,
        &[PadSide::Right],
        Some(&truth),
        1000,
        true,
    );
    let one_bracket: u64 = (1..=N_CTX as u64)
        .map(|l| l * 2 * 2u64.pow(l as u32 - 1))
        .sum();
    assert_eq!(r.disagreements, one_bracket);
    assert!(r.examples.iter().all(|d| brackets(&d.ids) == 1));
    // That rule predicts model errors at one bracket; the model makes none: hit rate 0.
    assert_eq!(r.predicted_errors, one_bracket);
    assert_eq!(r.predicted_hits, 0);
    assert!(r.adversarial.is_empty());
}

fn m_config(vocab: &Vocab) -> FaceModelConfig {
    FaceModelConfig::new(vocab.d_vocab(), N_CTX).with_d_model(2)
}

#[test]
fn scrubbing_recovers_the_loss_under_the_true_hypothesis_only() {
    use face_interp::scrub::{Hypothesis, scrub};
    use rand::{Rng, SeedableRng};
    let (m, vocab) = planted();
    let raw = face_model::RawModel::new(&m_config(&vocab), face_model::Weights::from_model(&m));
    let mut r = rand_chacha::ChaCha8Rng::seed_from_u64(4);
    let chars = ['(', ')', 'a', 'b'];
    let items: Vec<(String, bool, PadSide)> = (0..400)
        .map(|_| {
            let len = r.random_range(1..=N_CTX);
            let t: String = (0..len).map(|_| chars[r.random_range(0..4)]).collect();
            let label = t.chars().filter(|c| "()".contains(*c)).count() >= 2;
            (t, label, PadSide::Left)
        })
        .collect();
    let get = |h| scrub(&raw, &vocab, &items, h, &chars, 4, 9, &[]);
    let bag = get(Hypothesis::Bag);
    let bracket = get(Hypothesis::Bracket);
    let first = get(Hypothesis::FirstChar);
    assert!((bag.recovered - 1.0).abs() < 1e-6, "{bag:?}");
    assert!((bracket.recovered - 1.0).abs() < 1e-6, "{bracket:?}");
    assert!(first.recovered < 0.7, "{first:?}");
    assert!(first.se > 0.0 && first.se < 0.2, "{first:?}");
}

//! The extracted rule on planted models whose algorithm is known: the extraction reads
//! the planted rule back exactly, the exhaustive checker agrees everywhere (and finds a
//! planted disagreement), and causal scrubbing recovers the loss under the true
//! hypothesis and clearly less under a wrong one.
#![allow(clippy::unwrap_used)]

use face_data::{PadSide, Vocab};
use face_interp::rule::{self, AttentionRule, DEFAULT_WINDOW, exhaustive, summarize};
use face_interp::scrub::{self, Hypothesis};
use face_model::{FaceModelConfig, RawModel, Weights};
use rand::{Rng, SeedableRng};

mod common;

const N_CTX: usize = 6;

/// "A face iff `)` occurs". d_model 2: `)` embeds to [1, 0], `(` to [0, 1], everything
/// else to 0. Every query is [20·√2, 0] and only `)` has a key ([1, 0]), so every
/// position attends to the `)`s (score 20 against 0) when there is one and uniformly
/// otherwise. V is the identity; every readout row is [1, 0.4]; b_U = −3. So with a `)`
/// the logit is ≈ −3 + 6·1 = 3; without, at most −3 + 6·0.4 < 0.
fn magnet() -> (RawModel, Vocab) {
    let vocab = Vocab::faces();
    let cfg = FaceModelConfig::new(vocab.d_vocab(), N_CTX).with_d_model(2);
    let d = 2;
    let mut w_e = vec![0.0f32; vocab.d_vocab() * d];
    w_e[vocab.id(')') as usize * d] = 1.0;
    w_e[vocab.id('(') as usize * d + 1] = 1.0;
    let w = Weights {
        w_e,
        w_q: vec![0.0; d * d],
        b_q: vec![20.0 * std::f32::consts::SQRT_2, 0.0],
        w_k: vec![1.0, 0.0, 0.0, 0.0],
        b_k: vec![0.0; d],
        w_v: vec![1.0, 0.0, 0.0, 1.0],
        b_v: vec![0.0; d],
        w_u: (0..N_CTX).flat_map(|_| [1.0, 0.4]).collect(),
        b_u: vec![-3.0],
    };
    (RawModel::new(&cfg, w), vocab)
}

/// "At least two brackets": uniform attention (Q = K = 0), `(` and `)` embed to
/// [1, 0], V = I, readout [1, 0], b_U = −1.5 (`common::counting`, shared with `causal.rs`).
fn counter() -> (RawModel, Vocab) {
    let (cfg, w, vocab) = common::counting(N_CTX);
    (RawModel::new(&cfg, w), vocab)
}

fn alphabet(vocab: &Vocab) -> Vec<u32> {
    ['(', ')', 'x', '^'].iter().map(|&c| vocab.id(c)).collect()
}

#[test]
fn extraction_reads_the_planted_magnet_rule_back_exactly() {
    let (raw, vocab) = magnet();
    let rule = AttentionRule::from_raw(&raw, DEFAULT_WINDOW);
    let s = summarize(&rule, &vocab, 5);
    assert!((s.threshold - 3.0).abs() < 1e-6, "{}", s.threshold);
    // The magnet: `)` is every query character's first choice, and the only one.
    assert_eq!(s.magnets.len(), 1, "{:?}", s.magnets);
    assert_eq!(s.magnets[0].token, ")");
    assert_eq!(s.magnets[0].first_choice_of, vocab.d_vocab());
    // The votes: `)` +1 and `(` +0.4 at every position, every other character 0.
    let vote = |t: &str| s.votes.iter().find(|v| v.token == t).unwrap();
    for (t, want) in [(")", 1.0f32), ("(", 0.4)] {
        let v = vote(t);
        for got in [v.mean, v.min.0, v.max.0] {
            assert!((got - want).abs() < 1e-6, "{t}: {v:?}");
        }
    }
    assert!(
        s.votes
            .iter()
            .filter(|v| v.token != ")" && v.token != "(")
            .all(|v| v.mean == 0.0 && v.min.0 == 0.0 && v.max.0 == 0.0)
    );
    assert_eq!(s.votes[0].token, ")");
    // The sentences carry the numbers.
    assert!(s.text.iter().any(|l| l.contains("3.00")), "{:?}", s.text);
    assert!(
        s.text.iter().any(|l| l.contains("`)` +1.00")),
        "{:?}",
        s.text
    );
    // A trace: every position of "x)x" attends to `)` and votes +1.
    let e = vocab.encode_padded("x)x", N_CTX, PadSide::Left).unwrap();
    let tr = rule.trace(&vocab, &e.ids);
    assert_eq!(tr.len(), N_CTX);
    assert!(
        tr.iter()
            .all(|st| st.partners == [(")".to_string(), 1.0)] && st.vote == 1.0)
    );
    // Exhaustively the rule is the model, and both are "contains `)`".
    let close = vocab.id(')');
    let truth = move |t: &[u32]| t.contains(&close);
    let ex = exhaustive(
        &raw,
        &rule,
        &alphabet(&vocab),
        N_CTX,
        &[PadSide::Left, PadSide::Right],
        Some(&truth),
        5,
        false,
    );
    assert_eq!(
        ex.n,
        2 * (1..=N_CTX as u32).map(|l| 4u64.pow(l)).sum::<u64>()
    );
    assert_eq!(ex.disagreements, 0, "{:?}", ex.examples);
    assert_eq!(ex.model_accuracy, Some(1.0));
    assert_eq!(ex.rule_accuracy, Some(1.0));
    assert_eq!(ex.predicted_errors, 0);
}

#[test]
fn extraction_reads_the_planted_counting_rule_back_exactly() {
    let (raw, vocab) = counter();
    let rule = AttentionRule::from_raw(&raw, DEFAULT_WINDOW);
    let s = summarize(&rule, &vocab, 5);
    assert!((s.threshold - 1.5).abs() < 1e-6);
    // Uniform attention: every key ties for every query, so every character is everyone's
    // first choice.
    assert!(s.votes.iter().all(|v| v.first_choice_of == vocab.d_vocab()));
    for v in &s.votes {
        let want = if v.token == "(" || v.token == ")" {
            1.0
        } else {
            0.0
        };
        assert_eq!((v.mean, v.min.0, v.max.0), (want, want, want), "{v:?}");
    }
    // Rule score = model logit exactly on uniform attention: brackets − 1.5.
    for text in ["(", "()", "x(x)x", "xx"] {
        let e = vocab.encode_padded(text, N_CTX, PadSide::Right).unwrap();
        let brackets = text.chars().filter(|c| "()".contains(*c)).count() as f32;
        assert!(
            (rule.score(&e.ids) - (brackets - 1.5)).abs() < 1e-5,
            "{text}"
        );
        assert!(
            (raw.logit(&e.ids) - (brackets - 1.5)).abs() < 1e-5,
            "{text}"
        );
    }
}

#[test]
fn exhaustive_check_classifies_every_planted_disagreement() {
    let (raw, vocab) = counter();
    let brackets = |t: &[u32]| {
        t.iter()
            .filter(|&&i| i == vocab.id('(') || i == vocab.id(')'))
            .count()
    };
    let truth = |t: &[u32]| brackets(t) >= 2;
    // A planted disagreement: a threshold of 0.5 instead of 1.5 says "face" at one
    // bracket. Exactly those strings disagree, and the adversarial search (rule vs truth)
    // predicts model errors there that the model does not make.
    let wrong = AttentionRule::from_raw(&raw, DEFAULT_WINDOW).with_bias(-0.5);
    let ex = exhaustive(
        &raw,
        &wrong,
        &alphabet(&vocab),
        N_CTX,
        &[PadSide::Right],
        Some(&truth),
        0,
        true,
    );
    let one_bracket: u64 = (1..=N_CTX as u64)
        .map(|l| l * 2 * 2u64.pow(l as u32 - 1))
        .sum();
    assert_eq!(ex.disagreements, one_bracket);
    assert_eq!(ex.examples.len() as u64, one_bracket, "keep_all keeps all");
    assert!(ex.examples.iter().all(|d| brackets(&d.ids) == 1));
    // Every disagreement is classified; here no attention repair helps (the threshold is
    // wrong, not the attention), not even the full softmax, so all are `other`.
    assert_eq!(ex.by_class.iter().map(|(_, k)| k).sum::<u64>(), one_bracket);
    assert_eq!(
        ex.by_class
            .iter()
            .find(|(c, _)| *c == rule::Class::Other)
            .unwrap()
            .1,
        one_bracket
    );
    assert_eq!(ex.predicted_errors, one_bracket);
    assert_eq!(ex.false_faces, (one_bracket, 0));
    assert_eq!(ex.predicted_hits, 0);
    assert!(ex.adversarial.is_empty());
}

#[test]
fn exhaustive_check_finds_and_classifies_what_the_window_leaves_out() {
    // The magnet model with two faint keys: `(` scores 5 below `)` and `^` 8 below, so
    // the rule (window 4) ignores both. Their votes are huge and negative: `(` −1000
    // (weight e^-5 ≈ 0.0067: −6.7 per position), `^` −100000 (weight e^-8 ≈ 0.00034:
    // −34 per position). With b_U = 0 the rule says "face" whenever `)` occurs; the
    // model says no when `(` or `^` occurs too. A window of 6 sees `(` but not `^`.
    let vocab = Vocab::faces();
    let cfg = FaceModelConfig::new(vocab.d_vocab(), N_CTX).with_d_model(3);
    let d = 3;
    let mut w_e = vec![0.0f32; vocab.d_vocab() * d];
    w_e[vocab.id(')') as usize * d] = 1.0;
    w_e[vocab.id('(') as usize * d + 1] = 1.0;
    w_e[vocab.id('^') as usize * d + 2] = 1.0;
    let s = 3f32.sqrt();
    let mut w_v = vec![0.0; d * d];
    for i in 0..d {
        w_v[i * d + i] = 1.0;
    }
    let mut w_k = vec![0.0; d * d];
    for i in 0..d {
        w_k[i * d + i] = 1.0;
    }
    let raw = RawModel::new(
        &cfg,
        Weights {
            w_e,
            w_q: vec![0.0; d * d],
            b_q: vec![20.0 * s, 15.0 * s, 12.0 * s],
            w_k,
            b_k: vec![0.0; d],
            w_v,
            b_v: vec![0.0; d],
            w_u: (0..N_CTX)
                .flat_map(|_| [1.0, -1000.0, -100_000.0])
                .collect(),
            b_u: vec![0.0],
        },
    );
    let rule = AttentionRule::from_raw(&raw, DEFAULT_WINDOW);
    let row = |t: &str| vocab.encode_padded(t, N_CTX, PadSide::Left).unwrap().ids;
    assert!(rule.score(&row("()")) > 0.0 && raw.logit(&row("()")) < 0.0);
    assert!(rule.score(&row(")^")) > 0.0 && raw.logit(&row(")^")) < 0.0);
    let ex = exhaustive(
        &raw,
        &rule,
        &alphabet(&vocab),
        4,
        &[PadSide::Left],
        None,
        0,
        true,
    );
    let (open, close, caret) = (vocab.id('('), vocab.id(')'), vocab.id('^'));
    // Exactly the strings with `)` and a faint key disagree ...
    let expected = |t: &[u32]| t.contains(&close) && (t.contains(&open) || t.contains(&caret));
    let n_expected: u64 = (1..=4u32)
        .map(|l| {
            (0..4u64.pow(l))
                .filter(|&i| {
                    let t: Vec<u32> = (0..l)
                        .map(|p| alphabet(&vocab)[((i / 4u64.pow(p)) % 4) as usize])
                        .collect();
                    expected(&t)
                })
                .count() as u64
        })
        .sum();
    let odd: Vec<_> = ex
        .examples
        .iter()
        .filter(|d| !expected(&d.ids))
        .map(|d| (vocab.decode(&d.ids), d.logit, d.score))
        .collect();
    assert_eq!(ex.disagreements, n_expected, "{odd:?}");
    assert!(ex.examples.iter().all(|d| expected(&d.ids)));
    // ... and the class says which: with `(`, a window of 6 repairs it; with only `^`,
    // nothing short of the full softmax does.
    for d in &ex.examples {
        let want = if d.ids.contains(&open) {
            rule::Class::NearWindow
        } else {
            rule::Class::Diffuse
        };
        assert_eq!(d.class, want, "{:?}", d.ids);
    }
    let count = |c| ex.by_class.iter().find(|(x, _)| *x == c).unwrap().1;
    assert!(count(rule::Class::NearWindow) > 0 && count(rule::Class::Diffuse) > 0);
    assert!(ex.model_accuracy.is_none());
    // The trace shows the weights: `)` alone, at weight 1.
    let tr = rule.trace(&vocab, &row("x()"));
    assert_eq!(tr[0].partners, [(")".to_string(), 1.0)]);
    // A wide enough window is the model again.
    let wide = rule.clone().with_window(30.0);
    for t in ["()", ")^", "x)", "(^"] {
        let (a, b) = (wide.score(&row(t)), raw.logit(&row(t)));
        assert!((a - b).abs() <= 1e-3 * b.abs().max(1.0), "{t}: {a} vs {b}");
    }
}

#[test]
fn scrubbing_the_rule_recovers_the_loss_and_a_wrong_hypothesis_does_not() {
    let (raw, vocab) = magnet();
    let rule = AttentionRule::from_raw(&raw, DEFAULT_WINDOW);
    let mut r = rand_chacha::ChaCha8Rng::seed_from_u64(2);
    let chars = ['(', ')', 'x', '^'];
    let items: Vec<(String, bool, PadSide)> = (0..400)
        .map(|_| {
            let len = r.random_range(1..=N_CTX);
            let t: String = (0..len).map(|_| chars[r.random_range(0..4)]).collect();
            let label = t.contains(')');
            let side = if r.random_bool(0.5) {
                PadSide::Left
            } else {
                PadSide::Right
            };
            (t, label, side)
        })
        .collect();
    let reference = scrub::reference_logits(&raw, &vocab, &items);
    let all = scrub::scrub_all(&raw, &vocab, &rule, &items, &[], &chars, 4, 7, &reference);
    let get = |h| all.iter().find(|x| x.hypothesis == h).unwrap();
    let ru = get(Hypothesis::Rule);
    assert!(ru.defined);
    assert!((ru.recovered - 1.0).abs() < 0.01, "{ru:?}");
    // H_bag is true of this model too (it is permutation-invariant).
    assert!((get(Hypothesis::Bag).recovered - 1.0).abs() < 0.01);
    let first = get(Hypothesis::FirstChar);
    assert!(first.recovered < 0.7, "{first:?}");
    assert!(ru.self_donor.unwrap() < 0.5, "{ru:?}");
    // A set the model gets backwards is worse than a random input: the share is undefined.
    let backwards: Vec<_> = items.iter().map(|(t, l, s)| (t.clone(), !l, *s)).collect();
    let undefined = scrub::scrub(
        &raw,
        &vocab,
        &backwards,
        Hypothesis::Bag,
        &chars,
        2,
        5,
        &reference,
    );
    assert!(!undefined.defined, "{undefined:?}");
    // A slice with one label still has a baseline: the reference pool.
    let faces: Vec<_> = items.iter().filter(|i| i.1).cloned().collect();
    let one = scrub::scrub_rule(&raw, &vocab, &rule, &faces, &[], 2, 3, &reference);
    assert!(one.defined && one.l_random > one.l_clean + 0.5, "{one:?}");
}

#[test]
fn agreement_counts_decisions_and_r2_uses_the_raw_score() {
    let (raw, vocab) = magnet();
    let rule = AttentionRule::from_raw(&raw, DEFAULT_WINDOW);
    let texts = ["()", "x", "((", "x)"];
    let ids: Vec<u32> = texts
        .iter()
        .flat_map(|t| vocab.encode_padded(t, N_CTX, PadSide::Left).unwrap().ids)
        .collect();
    let z: Vec<f32> = ids.chunks(N_CTX).map(|r| raw.logit(r)).collect();
    let labels = [true, false, true, true];
    let bracket = [true, false, false, false];
    let a = rule::agreement(&rule, "t", &ids, &z, &labels, &bracket);
    assert_eq!(a.n, 4);
    assert_eq!(a.agreement, 1.0);
    assert!(a.r2 > 0.99, "{a:?}");
    assert_eq!(a.rule_accuracy, 0.75);
    assert_eq!(a.model_accuracy, 0.75);
    assert_eq!(a.bracket_accuracy, 0.5);
}

#[test]
fn the_exhaustive_alphabet_is_distinct_known_characters() {
    let vocab = Vocab::faces();
    let mut ids: Vec<u32> = face_interp::report::EXHAUSTIVE_ALPHABET
        .chars()
        .map(|c| {
            assert!(vocab.contains(c), "{c:?} is not in the vocabulary");
            vocab.id(c)
        })
        .collect();
    let n = ids.len();
    ids.sort_unstable();
    ids.dedup();
    assert_eq!(ids.len(), n);
    assert!(ids.iter().all(|&i| i >= 2), "no PAD or UNK");
}

#[test]
fn the_exhaustive_result_does_not_depend_on_the_thread_count() {
    let (raw, vocab) = counter();
    let truth = |t: &[u32]| {
        t.iter()
            .filter(|&&i| i == vocab.id('(') || i == vocab.id(')'))
            .count()
            >= 3
    };
    // A wrong threshold and window make disagreements and predicted errors of both kinds.
    let rule = AttentionRule::from_raw(&raw, 0.5).with_bias(-0.7);
    let run = |threads| {
        let mut e = rule::exhaustive_on(
            &raw,
            &rule,
            &alphabet(&vocab),
            5,
            &[PadSide::Left, PadSide::Right],
            Some(&truth),
            3,
            false,
            threads,
        );
        e.seconds = 0.0;
        e
    };
    let one = run(1);
    assert!(one.disagreements > 0 && one.predicted_errors > 0);
    assert!(!one.examples.is_empty() && !one.adversarial.is_empty());
    for threads in [2, 3, 7] {
        assert_eq!(run(threads), one, "{threads} threads");
    }
}

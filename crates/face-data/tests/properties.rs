//! Property tests: canonicalisation is idempotent, encoding round-trips, nothing panics on
//! arbitrary Unicode.

use face_data::{PadSide, Vocab, canonicalize, contains_face, faces};
use proptest::prelude::*;

/// Strings mixing arbitrary Unicode with the characters that exercise each rule:
/// escapes, combining marks, zero-width and control characters, substituted dashes.
fn tricky_string() -> impl Strategy<Value = String> {
    let pieces = prop_oneof![
        any::<char>().prop_map(|c| c.to_string()),
        Just("\\u".to_string()),
        "[0-9a-fA-F]{1,4}",
        Just("\u{200b}".to_string()),
        Just("\u{301}".to_string()),
        Just("\u{316}".to_string()),
        Just("e".to_string()),
        Just("－".to_string()),
        Just("·".to_string()),
        Just("\u{7}".to_string()),
        proptest::sample::select(faces().charset().to_vec()).prop_map(|c| c.to_string()),
    ];
    proptest::collection::vec(pieces, 0..24).prop_map(|v| v.concat())
}

fn charset_string() -> impl Strategy<Value = String> {
    proptest::collection::vec(proptest::sample::select(faces().charset().to_vec()), 1..24)
        .prop_map(|v| v.into_iter().collect())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn canonicalise_is_idempotent(s in tricky_string()) {
        let once = canonicalize(&s);
        prop_assert_eq!(canonicalize(&once), once);
    }

    #[test]
    fn canonicalise_fast_path_changes_nothing(s in tricky_string()) {
        prop_assert_eq!(canonicalize(&s), face_data::canonicalize_fixpoint(&s));
        if face_data::is_canonical(&s) {
            prop_assert_eq!(face_data::canonicalize_fixpoint(&s), s);
        }
    }

    #[test]
    fn canonicalise_never_panics_on_any_string(s in any::<String>()) {
        let c = canonicalize(&s);
        prop_assert_eq!(canonicalize(&c), c);
    }

    #[test]
    fn encode_decode_round_trips_on_charset_strings(s in charset_string(), left in any::<bool>()) {
        let v = Vocab::faces();
        let e = v.encode(&s);
        prop_assert_eq!(e.unknown, 0);
        prop_assert_eq!(v.decode(&e.ids), s.clone());
        let n_ctx = 24;
        let side = if left { PadSide::Left } else { PadSide::Right };
        let p = v.encode_padded(&s, n_ctx, side).expect("fits");
        prop_assert_eq!(p.ids.len(), n_ctx);
        prop_assert_eq!(v.decode(&p.ids), s);
    }

    #[test]
    fn encode_and_contains_face_never_panic(s in any::<String>(), n_ctx in 0usize..40) {
        let v = Vocab::faces();
        let e = v.encode(&s);
        prop_assert_eq!(e.ids.len(), s.chars().count());
        let unknown = s.chars().filter(|&c| !v.contains(c)).count();
        prop_assert_eq!(e.unknown, unknown);
        let _ = v.encode_padded(&s, n_ctx, PadSide::Right);
        let found = contains_face(&s);
        prop_assert_eq!(found, faces().unique().iter().any(|f| s.contains(f.as_str())));
    }
}

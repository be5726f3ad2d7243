//! Training/serving parity: synthetic records whose features and outputs the training
//! pipeline computed with numpy and onnxruntime (`model/golden_vectors.json`) must come
//! out the same from the Rust feature code and tract.

use serde::Deserialize;
use serde_json::Value;
use vigil::detect::{ConnectionRecord, Detector};

#[derive(Deserialize)]
struct Golden {
    tolerance: f32,
    cases: Vec<Case>,
}

#[derive(Deserialize)]
struct Case {
    record: Value,
    features: Vec<f32>,
    class_probabilities: Vec<f32>,
    novelty: f32,
}

fn golden() -> Golden {
    serde_json::from_str(include_str!("../../../model/golden_vectors.json"))
        .expect("golden vectors")
}

/// The cases whose records the API accepts. The pipeline also writes a few edge cases
/// (negative counts) to exercise its clamping; the API answers those with a 400, so
/// they never reach the model here, and are checked to be rejected instead.
fn valid_cases(golden: &Golden) -> Vec<(ConnectionRecord, &Case)> {
    let mut valid = Vec::new();
    for (i, case) in golden.cases.iter().enumerate() {
        match ConnectionRecord::from_json(&case.record, i) {
            Ok(record) => valid.push((record, case)),
            Err(errors) => assert!(errors.iter().all(|e| e.index == Some(i))),
        }
    }
    assert!(
        valid.len() + 5 >= golden.cases.len(),
        "almost every golden case is a valid record"
    );
    valid
}

fn max_abs_diff(a: &[f32], b: &[f32]) -> f32 {
    assert_eq!(a.len(), b.len());
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y).abs())
        .fold(0.0, f32::max)
}

#[test]
fn feature_processing_matches_training() {
    let detector = Detector::bundled().unwrap();
    let golden = golden();
    assert!(golden.cases.len() >= 100, "a few hundred cases");
    for (i, (record, case)) in valid_cases(&golden).iter().enumerate() {
        // The one-hot vector training computes, from the model's own inputs.
        let row = detector.encoder().wide(record);
        let diff = max_abs_diff(&row, &case.features);
        assert!(
            diff <= golden.tolerance,
            "case {i}: features differ by {diff}"
        );
    }
}

#[test]
fn tract_reproduces_onnxruntime_on_the_golden_vectors() {
    let detector = Detector::bundled().unwrap();
    let golden = golden();
    let valid = valid_cases(&golden);
    let records: Vec<ConnectionRecord> = valid.iter().map(|(r, _)| r.clone()).collect();
    // One batch for all, and batch size 1 for the first few: the detector's two plans
    // (fixed 256-row chunks, and any size for the rest) must give the same answers.
    assert!(
        records.len() > 256,
        "the batch spans a whole chunk and a rest"
    );
    let batch = detector.predict(&records).unwrap();
    let mut worst = 0.0f32;
    for (i, (p, (_, case))) in batch.iter().zip(&valid).enumerate() {
        let diff = max_abs_diff(&p.probabilities, &case.class_probabilities)
            .max((p.novelty - case.novelty).abs());
        assert!(
            diff <= golden.tolerance,
            "case {i}: outputs differ by {diff}"
        );
        worst = worst.max(diff);
    }
    // The first rows ran in the chunk plan, the last ones in the rest plan.
    for i in (0..5).chain(records.len() - 5..records.len()) {
        let single = detector.predict(std::slice::from_ref(&records[i])).unwrap();
        assert!(max_abs_diff(&single[0].probabilities, &batch[i].probabilities) <= 1e-6);
    }
    eprintln!("max abs difference over {} cases: {worst:e}", valid.len());
}

#[test]
fn a_batch_split_across_threads_scores_exactly_as_on_one() {
    // Given the golden records, repeated into a batch large enough to split
    let golden = golden();
    let records: Vec<ConnectionRecord> = valid_cases(&golden)
        .into_iter()
        .map(|(r, _)| r)
        .cycle()
        .take(9_000)
        .collect();
    let one = Detector::bundled().unwrap().with_threads(1);
    let many = Detector::bundled().unwrap().with_threads(3);

    // When each scores it
    let alone = one.predict(&records).unwrap();
    let split = many.predict(&records).unwrap();

    // Then every prediction is the same, bit for bit, in the same order
    assert_eq!(alone.len(), records.len());
    for (i, (a, b)) in alone.iter().zip(&split).enumerate() {
        assert_eq!(a.probabilities, b.probabilities, "record {i}");
        assert_eq!(a.novelty.to_bits(), b.novelty.to_bits(), "record {i}");
    }
}

#[test]
fn explanations_split_across_threads_are_those_of_one() {
    // Given the golden records as threats, many times over
    let golden = golden();
    let records: Vec<ConnectionRecord> = valid_cases(&golden)
        .into_iter()
        .map(|(r, _)| r)
        .cycle()
        .take(3_000)
        .collect();
    let one = Detector::bundled().unwrap().with_threads(1);
    let many = Detector::bundled().unwrap().with_threads(3);
    let predictions = one.predict(&records).unwrap();
    let all: Vec<usize> = (0..records.len()).collect();

    // When each explains them
    let alone = one.explain(&records, &predictions, &all).unwrap();
    let split = many.explain(&records, &predictions, &all).unwrap();

    // Then the explanations agree, three features each: a record's variants may run
    // in the fixed-size plan on one thread and in the any-size plan on another, which
    // differ in the last float digits (see the golden test above), so two features of
    // nearly equal weight may swap places; every feature both name weighs the same.
    assert_eq!(alone.len(), split.len());
    for (i, (a, b)) in alone.iter().zip(&split).enumerate() {
        assert_eq!(a.len(), vigil::detect::TOP_FEATURES);
        for x in a {
            if let Some(y) = b.iter().find(|y| y.feature == x.feature) {
                let tolerance = 1e-3 * x.contribution.abs().max(1.0);
                assert!(
                    (x.contribution - y.contribution).abs() <= tolerance,
                    "record {i}: {x:?} vs {y:?}"
                );
            }
        }
        let shared = a
            .iter()
            .filter(|x| b.iter().any(|y| y.feature == x.feature))
            .count();
        assert!(shared >= 2, "record {i}: {a:?} vs {b:?}");
    }
    // And a record explained twice in one batch is explained alike
    let distinct = valid_cases(&golden).len();
    assert_eq!(alone[0], alone[distinct]);
}

#[test]
fn the_bundled_schema_describes_the_bundled_model() {
    let detector = Detector::bundled().unwrap();
    let schema = detector.schema();
    assert_eq!(schema.classes, ["normal", "dos", "probe", "r2l", "u2r"]);
    assert_eq!(schema.feature_count, detector.encoder().wide_width());
    for profile in vigil::domain::Profile::ALL {
        let at = schema.profiles.of(profile);
        assert!((0.0..=1.0).contains(&at.threshold), "{profile}");
        assert!(at.novelty_threshold.is_none_or(|t| t > 0.0), "{profile}");
    }
    // The sha256 in the schema is the bundled model's: the two files travel together.
    use sha2::{Digest, Sha256};
    let digest = Sha256::digest(vigil::detect::BUNDLED_MODEL);
    let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
    assert_eq!(schema.model.sha256, hex);
    assert!(
        vigil::detect::BUNDLED_MODEL.len() < 5 * 1024 * 1024,
        "model under 5 MB"
    );
}

#[test]
fn a_stricter_profile_flags_a_subset_of_what_a_looser_one_does() {
    use vigil::domain::Profile;
    let golden = golden();
    let records: Vec<ConnectionRecord> = valid_cases(&golden).into_iter().map(|(r, _)| r).collect();
    let threats = |profile: Profile| -> Vec<bool> {
        let detector = Detector::bundled().unwrap().with_profile(profile);
        assert_eq!(detector.profile(), profile);
        detector
            .predict(&records)
            .unwrap()
            .iter()
            .map(|p| p.is_threat)
            .collect()
    };
    let (strict, balanced, sensitive) = (
        threats(Profile::Strict),
        threats(Profile::Balanced),
        threats(Profile::Sensitive),
    );
    let count = |v: &[bool]| v.iter().filter(|t| **t).count();
    for i in 0..records.len() {
        assert!(
            !strict[i] || balanced[i],
            "case {i}: strict flags, balanced not"
        );
        assert!(
            !balanced[i] || sensitive[i],
            "case {i}: balanced flags, sensitive not"
        );
    }
    assert!(
        count(&strict) < count(&sensitive),
        "the profiles differ on the golden set"
    );
    // The default is balanced, as the config's default is.
    assert_eq!(Detector::bundled().unwrap().profile(), Profile::Balanced);
}

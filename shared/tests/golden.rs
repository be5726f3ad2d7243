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
    serde_json::from_str(include_str!("../../model/golden_vectors.json")).expect("golden vectors")
}

fn max_abs_diff(a: &[f32], b: &[f32]) -> f32 {
    assert_eq!(a.len(), b.len());
    a.iter().zip(b).map(|(x, y)| (x - y).abs()).fold(0.0, f32::max)
}

#[test]
fn feature_processing_matches_training() {
    let detector = Detector::bundled().unwrap();
    let golden = golden();
    assert!(golden.cases.len() >= 100, "a few hundred cases");
    let mut row = vec![0.0; detector.encoder().width()];
    for (i, case) in golden.cases.iter().enumerate() {
        let record = ConnectionRecord::from_json(&case.record, i).unwrap();
        detector.encoder().encode_into(&record, &mut row);
        let diff = max_abs_diff(&row, &case.features);
        assert!(diff <= golden.tolerance, "case {i}: features differ by {diff}");
    }
}

#[test]
fn tract_reproduces_onnxruntime_on_the_golden_vectors() {
    let detector = Detector::bundled().unwrap();
    let golden = golden();
    let records: Vec<ConnectionRecord> = golden
        .cases
        .iter()
        .enumerate()
        .map(|(i, c)| ConnectionRecord::from_json(&c.record, i).unwrap())
        .collect();
    // One batch for all, and batch size 1 for the first few: the symbolic batch
    // dimension must give the same answers either way.
    let batch = detector.predict(&records).unwrap();
    let mut worst = 0.0f32;
    for (i, (p, case)) in batch.iter().zip(&golden.cases).enumerate() {
        let diff = max_abs_diff(&p.probabilities, &case.class_probabilities)
            .max((p.novelty - case.novelty).abs());
        assert!(diff <= golden.tolerance, "case {i}: outputs differ by {diff}");
        worst = worst.max(diff);
    }
    for (i, record) in records.iter().take(5).enumerate() {
        let single = detector.predict(std::slice::from_ref(record)).unwrap();
        assert!(max_abs_diff(&single[0].probabilities, &batch[i].probabilities) <= 1e-6);
    }
    eprintln!("max abs difference over {} cases: {worst:e}", golden.cases.len());
}

#[test]
fn the_bundled_schema_describes_the_bundled_model() {
    let detector = Detector::bundled().unwrap();
    let schema = detector.schema();
    assert_eq!(schema.classes, ["normal", "dos", "probe", "r2l", "u2r"]);
    assert_eq!(schema.feature_count, detector.encoder().width());
    assert!((0.0..=1.0).contains(&schema.threshold));
    // The sha256 in the schema is the bundled model's.
    assert_eq!(schema.model.sha256.len(), 64);
    assert!(vigil::detect::BUNDLED_MODEL.len() < 5 * 1024 * 1024, "model under 5 MB");
}

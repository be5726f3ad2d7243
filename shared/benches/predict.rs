//! Throughput of the predict path: parse (JSON or CSV) + features + inference, for
//! batches of 1, 100 and 10,000 synthetic records, on one thread; and inference at
//! 10,000 on every core (`inference_all_cores`). `make bench` runs it in release mode.
//!
//! The records are generated here (a fixed pseudo-random sequence), not taken from a
//! data set.

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use serde_json::{Map, Value, json};
use std::hint::black_box;
use vigil::detect::{ConnectionRecord, Detector, FEATURES, FeatureKind};
use vigil_testkit::rng::Lcg;

fn synthetic(n: usize) -> Vec<Value> {
    let mut rng = Lcg(42);
    let protocols = ["tcp", "udp", "icmp"];
    let services = [
        "http", "private", "smtp", "ftp_data", "domain_u", "ecr_i", "other",
    ];
    let flags = ["SF", "S0", "REJ", "RSTO"];
    (0..n)
        .map(|_| {
            let mut m = Map::new();
            for (name, kind) in FEATURES {
                let pick =
                    |xs: &[&str], r: f64| json!(xs[(r * xs.len() as f64) as usize % xs.len()]);
                let r = rng.fraction();
                let v = match (kind, name) {
                    (FeatureKind::Categorical, "protocol_type") => pick(&protocols, r),
                    (FeatureKind::Categorical, "service") => pick(&services, r),
                    (FeatureKind::Categorical, _) => pick(&flags, r),
                    (FeatureKind::Count, _) => json!((r * r * 5000.0).floor()),
                    (FeatureKind::Rate, _) => json!((r * 100.0).round() / 100.0),
                    (FeatureKind::Flag, _) => json!(u8::from(r > 0.5)),
                };
                m.insert(name.to_owned(), v);
            }
            Value::Object(m)
        })
        .collect()
}

fn csv(records: &[Value]) -> String {
    let mut out = String::new();
    for r in records {
        let line: Vec<String> = FEATURES
            .iter()
            .map(|(name, _)| match &r[name] {
                Value::String(s) => s.clone(),
                v => v.to_string(),
            })
            .collect();
        out.push_str(&line.join(","));
        out.push('\n');
    }
    out
}

fn bench(c: &mut Criterion) {
    // One thread for every figure but `inference_all_cores`, so each is a per-core
    // figure whatever the machine.
    let detector = Detector::bundled().expect("bundled model").with_threads(1);
    let all_cores = Detector::bundled().expect("bundled model");
    let mut group = c.benchmark_group("predict");
    for n in [1usize, 100, 10_000] {
        let records = synthetic(n);
        let body = serde_json::to_vec(&json!({ "records": records })).unwrap();
        let text = csv(&records);
        group.throughput(Throughput::Elements(n as u64));
        group.bench_with_input(BenchmarkId::new("json", n), &body, |b, body| {
            b.iter(|| {
                let v: Value = serde_json::from_slice(body).unwrap();
                let parsed: Vec<ConnectionRecord> = v["records"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .enumerate()
                    .map(|(i, r)| ConnectionRecord::from_json(r, i).unwrap())
                    .collect();
                black_box(detector.predict(&parsed).unwrap())
            })
        });
        group.bench_with_input(BenchmarkId::new("csv", n), &text, |b, text| {
            b.iter(|| {
                let parsed: Vec<ConnectionRecord> = text
                    .lines()
                    .enumerate()
                    .map(|(i, l)| ConnectionRecord::from_csv(l, i, i + 1).unwrap())
                    .collect();
                black_box(detector.predict(&parsed).unwrap())
            })
        });
        let parsed: Vec<ConnectionRecord> = records
            .iter()
            .enumerate()
            .map(|(i, r)| ConnectionRecord::from_json(r, i).unwrap())
            .collect();
        group.bench_with_input(
            BenchmarkId::new("inference_only", n),
            &parsed,
            |b, parsed| b.iter(|| black_box(detector.predict(parsed).unwrap())),
        );
        // The same, split across every core this machine has (large batches only).
        if n >= 10_000 {
            group.bench_with_input(
                BenchmarkId::new("inference_all_cores", n),
                &parsed,
                |b, parsed| b.iter(|| black_box(all_cores.predict(parsed).unwrap())),
            );
        }
        let mut encoded = vigil::detect::Encoded::default();
        group.bench_with_input(
            BenchmarkId::new("features_only", n),
            &parsed,
            |b, parsed| {
                b.iter(|| {
                    detector.encoder().encode(parsed, &mut encoded);
                    black_box(encoded.numeric.len())
                })
            },
        );
        // Explaining every record of the batch (all distinct): the cost of `explain`
        // per threat, for a batch of threats.
        if n >= 10_000 {
            let predictions = detector.predict(&parsed).unwrap();
            let all: Vec<usize> = (0..n).collect();
            group.bench_with_input(
                BenchmarkId::new("explain_distinct", n),
                &parsed,
                |b, parsed| {
                    b.iter(|| black_box(detector.explain(parsed, &predictions, &all).unwrap()))
                },
            );
            group.bench_with_input(
                BenchmarkId::new("explain_distinct_all_cores", n),
                &parsed,
                |b, parsed| {
                    b.iter(|| black_box(all_cores.explain(parsed, &predictions, &all).unwrap()))
                },
            );
        }
        detector.encoder().encode(&parsed, &mut encoded);
        group.bench_with_input(BenchmarkId::new("model_only", n), &encoded, |b, encoded| {
            b.iter(|| black_box(detector.run(encoded, n).unwrap()))
        });
    }
    group.finish();

    c.bench_function("model_load", |b| {
        b.iter(|| black_box(Detector::bundled().unwrap()))
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);

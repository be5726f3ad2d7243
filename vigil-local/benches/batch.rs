//! Batch scoring, measured beside the stack Vigil replaces, in one run: `make bench`
//! (release). Prints one table, every figure next to its target (issue 14), and
//! writes it to `target/bench/batch.md` (and `.json`).
//!
//! - In-process, 10,000 records per batch, one thread: CSV text → compact CSV
//!   answer, CSV → JSON answer, JSON → JSON answer (`answer_unstored`: the handler's
//!   own read, score, explain and answer steps, no store); the model alone in tract;
//!   the response alone; the features alone.
//! - The same CSV batch on every core, and the speed-up.
//! - Beside them, with `PEER=../shared/peer` (and its venv, see the Makefile): the
//!   peer's CSV → predictions (pandas + its fitted preprocessor + onnxruntime), and
//!   onnxruntime on Vigil's own model with the very features tract ran.
//! - Over HTTP on loopback: the release vigil-local and (with `PEER`) the peer's
//!   gunicorn (2 workers), 1 record per request on 16 connections and 1,000 records
//!   per request on 4, the same JSON bodies for both, loaded by wrk.
//! - Peak RSS of vigil-local after one 10,000-record batch; model load (cold start
//!   to model ready); the predict package, when `make package-size` has built it.
//!
//! The records are synthetic (a fixed pseudo-random sequence of ordinary web traffic
//! with 2 % floods and scans), never data set rows; the share the model calls
//! threats is printed, since explanations cost per distinct threat.

mod support;

use serde_json::{Value, json};
use std::{
    fmt::Write as _,
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};
use vigil::detect::{ConnectionRecord, Detector, handlers};
use vigil_testkit::{
    records::{csv_line, port_scan, syn_flood, web_browsing},
    rng::Lcg,
};

const BATCH: usize = 10_000;

/// Ordinary web traffic with 1 % floods and 1 % scans, each record its own.
fn records(n: usize, seed: u64) -> Vec<Value> {
    let mut rng = Lcg(seed);
    (0..n)
        .map(|i| {
            let mut r = match i % 100 {
                0 => syn_flood(),
                50 => port_scan(),
                _ => web_browsing(),
            };
            if i % 50 == 0 {
                r["count"] = json!(rng.int(100, 511));
                r["dst_host_srv_count"] = json!(rng.int(1, 30));
            } else {
                r["service"] = json!(["http", "http", "http", "smtp", "ftp_data"][i % 5]);
                r["src_bytes"] = json!(rng.int(100, 3000));
                r["dst_bytes"] = json!(rng.int(200, 60_000));
                r["count"] = json!(rng.int(1, 30));
                r["srv_count"] = json!(rng.int(1, 30));
                r["dst_host_count"] = json!(rng.int(1, 255));
                r["dst_host_srv_count"] = json!(rng.int(1, 255));
                r["dst_host_same_src_port_rate"] = json!(rng.int(0, 10) as f64 / 100.0);
            }
            r
        })
        .collect()
}

fn csv(records: &[Value]) -> String {
    records.iter().map(|r| csv_line(r) + "\n").collect()
}

/// Records per second of `f` (which handles `n` records): the median of 7 runs of at
/// least 0.3 s each, after one warm-up call.
fn rate(n: usize, mut f: impl FnMut()) -> f64 {
    f();
    let mut rates: Vec<f64> = (0..7)
        .map(|_| {
            let (mut done, started) = (0, Instant::now());
            while started.elapsed() < Duration::from_millis(300) {
                f();
                done += n;
            }
            done as f64 / started.elapsed().as_secs_f64()
        })
        .collect();
    rates.sort_by(f64::total_cmp);
    rates[rates.len() / 2]
}

/// Milliseconds of one call of `f`: the median of 15.
fn millis(mut f: impl FnMut()) -> f64 {
    let mut times: Vec<f64> = (0..15)
        .map(|_| {
            let started = Instant::now();
            f();
            started.elapsed().as_secs_f64() * 1000.0
        })
        .collect();
    times.sort_by(f64::total_cmp);
    times[times.len() / 2]
}

struct Table {
    rows: Vec<[String; 4]>,
    json: serde_json::Map<String, Value>,
}

impl Table {
    fn row(&mut self, what: &str, vigil: String, beside: String, target: &str) {
        self.rows.push([what.into(), vigil, beside, target.into()]);
    }

    fn figure(&mut self, key: &str, value: f64) -> f64 {
        self.json.insert(key.into(), json!(value));
        value
    }

    fn render(&self) -> String {
        let mut out =
            String::from("| figure | Vigil | beside it | target |\n|---|---:|---:|---|\n");
        for [a, b, c, d] in &self.rows {
            let _ = writeln!(out, "| {a} | {b} | {c} | {d} |");
        }
        out
    }
}

fn per_s(x: f64) -> String {
    if x >= 1e6 {
        format!("{:.2} M/s", x / 1e6)
    } else if x >= 1e4 {
        format!("{:.0} k/s", x / 1e3)
    } else {
        format!("{x:.0}/s")
    }
}

fn main() {
    // The peak-memory probe: this binary again, doing only what predict does.
    if std::env::var_os(RSS_PROBE).is_some() {
        return rss_probe();
    }
    // `cargo bench` passes `--bench`; nothing else is taken.
    let root = Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_owned();
    let out_dir = root.join("target/bench");
    std::fs::create_dir_all(&out_dir).unwrap();
    let mut table = Table {
        rows: Vec::new(),
        json: serde_json::Map::new(),
    };

    let started = Instant::now();
    let one = Detector::bundled()
        .expect("the bundled model")
        .with_threads(1);
    let cold_ms = started.elapsed().as_secs_f64() * 1000.0;
    let load_ms = millis(|| drop(Detector::bundled().unwrap()));
    let all = Detector::bundled().unwrap();
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());

    let values = records(BATCH, 42);
    let text = csv(&values);
    let json_body = serde_json::to_vec(&json!({ "records": values })).unwrap();
    let parsed: Vec<ConnectionRecord> = values
        .iter()
        .enumerate()
        .map(|(i, r)| ConnectionRecord::from_json(r, i).unwrap())
        .collect();
    let predictions = one.predict(&parsed).unwrap();
    let threats = predictions.iter().filter(|p| p.is_threat).count();
    let mut features = vigil::detect::Encoded::default();
    one.encoder().encode(&parsed, &mut features);

    // `VIGIL_BENCH_PROFILE=rest`: one call's time for batches up to a chunk, which
    // decides when a rest is padded to a whole chunk (`PAD_FROM` in detector.rs).
    if std::env::var("VIGIL_BENCH_PROFILE").as_deref() == Ok("rest") {
        let w = one.encoder().numeric_width();
        for n in [1, 8, 32, 64, 96, 128, 192, 256, 384, 511, 512] {
            let part = vigil::detect::Encoded {
                numeric: features.numeric[..n * w].to_vec(),
                categories: features.categories[..n * vigil::detect::CATEGORIES].to_vec(),
            };
            let t = Instant::now();
            let mut k = 0;
            while t.elapsed() < Duration::from_millis(300) {
                one.run(&part, n).unwrap();
                k += 1;
            }
            println!("{n}: {:.1} µs", t.elapsed().as_secs_f64() * 1e6 / k as f64);
        }
        return;
    }
    if std::env::var("VIGIL_BENCH_PROFILE").as_deref() == Ok("nodes") {
        return profile_nodes(&one, &features);
    }
    // Profiling aid: `VIGIL_BENCH_PROFILE=csv|json|features|model` runs one path for 10 s
    // (or VIGIL_BENCH_SECS), prints its rate, then stops.
    if let Ok(path) = std::env::var("VIGIL_BENCH_PROFILE") {
        let (body, csv_body) = match path.as_str() {
            "json" => (json_body.as_slice(), false),
            _ => (text.as_bytes(), true),
        };
        let secs = std::env::var("VIGIL_BENCH_SECS").map_or(10.0, |s| s.parse().unwrap());
        let (started, mut batches) = (Instant::now(), 0);
        while started.elapsed() < Duration::from_secs_f64(secs) {
            match path.as_str() {
                "features" => one.encoder().encode(&parsed, &mut features),
                "model" => drop(one.run(&features, BATCH).unwrap()),
                _ => drop(handlers::answer_unstored(&one, body, csv_body, path == "csv").unwrap()),
            }
            batches += 1;
        }
        let records = (batches * BATCH) as f64 / started.elapsed().as_secs_f64();
        println!("{path}: {} records", per_s(records));
        return;
    }

    // In process, one thread.
    let csv_csv = table.figure(
        "csv_to_csv_per_s",
        rate(BATCH, || {
            handlers::answer_unstored(&one, text.as_bytes(), true, true).unwrap();
        }),
    );
    let csv_json = table.figure(
        "csv_to_json_per_s",
        rate(BATCH, || {
            handlers::answer_unstored(&one, text.as_bytes(), true, false).unwrap();
        }),
    );
    let json_json = table.figure(
        "json_to_json_per_s",
        rate(BATCH, || {
            handlers::answer_unstored(&one, &json_body, false, false).unwrap();
        }),
    );
    let model = table.figure(
        "model_per_s",
        rate(BATCH, || {
            one.run(&features, BATCH).unwrap();
        }),
    );
    // The first 1,000 rows, copied once: the figure is the model's, not a copy's.
    let first_1000 = vigil::detect::Encoded {
        numeric: features.numeric[..1000 * one.encoder().numeric_width()].to_vec(),
        categories: features.categories[..1000 * vigil::detect::CATEGORIES].to_vec(),
    };
    let model_1000 = table.figure(
        "model_1000_per_s",
        rate(1000, || {
            one.run(&first_1000, 1000).unwrap();
        }),
    );
    let mut encoded = vigil::detect::Encoded::default();
    let encode = table.figure(
        "features_per_s",
        rate(BATCH, || one.encoder().encode(&parsed, &mut encoded)),
    );
    let respond_json = table.figure(
        "response_json_ms",
        millis(|| {
            handlers::answer_bytes(&one, &predictions, Default::default(), false);
        }),
    );
    let respond_csv = table.figure(
        "response_csv_ms",
        millis(|| {
            handlers::answer_bytes(&one, &predictions, Default::default(), true);
        }),
    );
    let csv_all = table.figure(
        "csv_to_csv_all_cores_per_s",
        rate(BATCH, || {
            handlers::answer_unstored(&all, text.as_bytes(), true, true).unwrap();
        }),
    );

    // Beside them: the peer and onnxruntime, on the same records and features.
    std::fs::write(out_dir.join("records.csv"), &text).unwrap();
    let numeric: Vec<u8> = features
        .numeric
        .iter()
        .flat_map(|x| x.to_le_bytes())
        .collect();
    std::fs::write(out_dir.join("numeric.f32"), numeric).unwrap();
    let categories: Vec<u8> = features
        .categories
        .iter()
        .flat_map(|x| x.to_le_bytes())
        .collect();
    std::fs::write(out_dir.join("categories.i64"), categories).unwrap();
    let peer = std::env::var("PEER").ok().filter(|p| !p.is_empty());
    let python = std::env::var("PEER_PYTHON").ok().filter(|p| !p.is_empty());
    let beside = python.as_ref().and_then(|python| {
        let mut cmd = Command::new(python);
        cmd.arg(root.join("tools/peer_bench.py"))
            .args(["--csv", out_dir.join("records.csv").to_str().unwrap()])
            .args(["--numeric", out_dir.join("numeric.f32").to_str().unwrap()])
            .args([
                "--categories",
                out_dir.join("categories.i64").to_str().unwrap(),
            ])
            .args(["--width", &one.encoder().numeric_width().to_string()])
            .args(["--onnx", root.join("model/vigil.onnx").to_str().unwrap()])
            .env("OMP_NUM_THREADS", "1")
            .env("OPENBLAS_NUM_THREADS", "1");
        if let Some(peer) = &peer {
            cmd.args(["--peer", peer]);
            cmd.args(["--peer-dir", &peer_dir(&root)]);
        }
        let output = cmd.output().ok()?;
        if !output.status.success() {
            eprintln!("peer bench: {}", String::from_utf8_lossy(&output.stderr));
            return None;
        }
        serde_json::from_slice::<Value>(&output.stdout).ok()
    });
    let b = |key: &str| beside.as_ref().and_then(|v| v[key].as_f64());
    let shown =
        |x: Option<f64>, what: &str| x.map_or("–".into(), |x| format!("{} ({what})", per_s(x)));

    table.row(
        "CSV text → predictions (compact CSV answer), 10,000, 1 core",
        per_s(csv_csv),
        shown(b("peer_csv"), "peer: pandas + onnxruntime"),
        "≥ 1 M/s",
    );
    table.row(
        "CSV text → JSON answer with explanations, 10,000, 1 core",
        per_s(csv_json),
        shown(b("peer_csv_sklearn"), "peer: pandas + sklearn"),
        "–",
    );
    table.row(
        "JSON → JSON answer with explanations, 10,000, 1 core",
        per_s(json_json),
        "–".into(),
        "≥ 500 k/s",
    );
    table.row(
        "model only, 10,000, 1 core",
        per_s(model),
        shown(b("ort_model"), "onnxruntime, same file"),
        "≥ onnxruntime",
    );
    table.row(
        "model only, 1,000, 1 core",
        per_s(model_1000),
        shown(b("ort_model_1000"), "onnxruntime, same file"),
        "≥ 500 k/s (issue 12)",
    );
    table.row(
        "features only, 10,000, 1 core",
        per_s(encode),
        "–".into(),
        "–",
    );
    table.row(
        "response, 10,000 predictions (JSON / CSV)",
        format!("{respond_json:.1} ms / {respond_csv:.1} ms"),
        "–".into(),
        "≤ 10 ms",
    );
    table.row(
        &format!("CSV → compact answer, 10,000, all {cores} cores"),
        format!("{} ({:.2}×)", per_s(csv_all), csv_all / csv_csv),
        "–".into(),
        "uses every core",
    );

    // Over HTTP on loopback.
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let one_body = serde_json::to_vec(&json!({"records": [values[1]]})).unwrap();
    let thousand_body = serde_json::to_vec(&json!({"records": &values[..1000]})).unwrap();
    let mut server = VigilServer::start();
    let rss_start = server.rss_mib("VmRSS");
    let token = runtime.block_on(async {
        let token = server.token().await;
        // One 10,000-record batch first, for the peak RSS it takes.
        let response = reqwest::Client::new()
            .post(format!(
                "{}/threat-detection/predict?store=false",
                server.base
            ))
            .bearer_auth(&token)
            .header("content-type", "text/csv")
            .body(text.clone())
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
        response.bytes().await.unwrap();
        token
    });
    let url = format!("{}/threat-detection/predict?store=false", server.base);
    let vigil_http = (
        load(&url, Some(&token), &one_body, 16),
        load(&url, Some(&token), &thousand_body, 4),
    );
    let rss_batch = server.rss_mib("VmHWM");
    server.stop();
    let peer_http = peer
        .as_ref()
        .zip(python.as_ref())
        .and_then(|(peer, python)| {
            let mut gunicorn = PeerServer::start(&root, peer, python)?;
            let url = format!("{}/predict", gunicorn.base);
            let result = (
                load(&url, None, &one_body, 16),
                load(&url, None, &thousand_body, 4),
            );
            gunicorn.stop();
            Some(result)
        });
    let (single, batch) = vigil_http;
    table.figure("http_1_req_per_s", single.per_s);
    table.figure("http_1000_records_per_s", batch.per_s * 1000.0);
    let vs = |mine: f64, theirs: Option<f64>| {
        theirs.map_or("–".into(), |t| format!("{} ({:.1}×)", per_s(t), mine / t))
    };
    table.row(
        "HTTP, 1 record per request, 16 connections (requests/s, p99)",
        format!(
            "{} requests, p99 {:.1} ms",
            per_s(single.per_s),
            single.p99_ms
        ),
        peer_http.as_ref().map_or("–".into(), |(s, _)| {
            format!(
                "{} requests, p99 {:.1} ms ({:.0}×)",
                per_s(s.per_s),
                s.p99_ms,
                single.per_s / s.per_s
            )
        }),
        "≥ 100× the peer",
    );
    table.row(
        "HTTP, 1,000 records per request, 4 connections (records/s)",
        per_s(batch.per_s * 1000.0),
        vs(
            batch.per_s * 1000.0,
            peer_http.as_ref().map(|(_, b)| b.per_s * 1000.0),
        ),
        "≥ 5× the peer",
    );
    let (probe_loaded, probe_peak) = probe_rss(&out_dir.join("records.csv"));
    table.figure("rss_predict_path_mib", probe_peak);
    table.figure("rss_vigil_local_mib", rss_batch);
    table.row(
        "peak RSS, one 10,000-record CSV batch (predict path: model loaded / after)",
        format!("{probe_loaded:.0} / {probe_peak:.0} MiB"),
        format!("vigil-local, whole server: {rss_start:.0} MiB at start, peak {rss_batch:.0}"),
        "≤ 48 MB",
    );
    table.figure("model_load_ms", load_ms);
    table.row(
        "model ready: load + optimise + plan (first / median)",
        format!("{cold_ms:.1} ms / {load_ms:.1} ms"),
        "–".into(),
        "≤ 15 ms",
    );
    let zip = root.join("target/lambda/predict/bootstrap.zip");
    table.row(
        "predict package (arm64 zip)",
        std::fs::metadata(&zip).map_or("not built: make package-size".into(), |m| {
            format!("{:.1} MB", m.len() as f64 / 1e6)
        }),
        "–".into(),
        "≤ 6 MB",
    );

    let report = format!(
        "{}\n{BATCH} synthetic records a batch, {threats} of them threats ({:.1} %); \
         release build, this machine ({cores} cores); `make bench`.\n",
        table.render(),
        100.0 * threats as f64 / BATCH as f64
    );
    println!("\n{report}");
    std::fs::write(out_dir.join("batch.md"), &report).unwrap();
    std::fs::write(
        out_dir.join("batch.json"),
        serde_json::to_vec_pretty(&table.json).unwrap(),
    )
    .unwrap();
}

const RSS_PROBE: &str = "VIGIL_BENCH_RSS_PROBE";

/// In a process of its own: the bundled model on every core and one 10,000-record CSV
/// batch answered in JSON (with explanations), as the predict function does; prints
/// the peak RSS (VmHWM) in MiB, before and after the batch.
fn rss_probe() {
    let detector = Detector::bundled().unwrap();
    let text = std::fs::read(std::env::var(RSS_PROBE).unwrap()).unwrap();
    let before = proc_status_mib(std::process::id(), "VmHWM");
    handlers::answer_unstored(&detector, &text, true, false).unwrap();
    let after = proc_status_mib(std::process::id(), "VmHWM");
    println!("{before} {after}");
}

/// Where tract's time goes, node by node: the chunk plan's steps timed one by one
/// (tract's own `eval`, wrapped) over the batch's whole chunks, repeated for 3 s.
/// Prints a Markdown table, the slowest first.
fn profile_nodes(detector: &Detector, features: &vigil::detect::Encoded) {
    let (plan, rows) = detector.chunk_plan();
    let width = detector.encoder().numeric_width();
    let model = plan.model();
    let mut spent = vec![Duration::ZERO; model.nodes().len()];
    let mut state = plan.spawn().unwrap();
    let (started, mut chunks) = (Instant::now(), 0usize);
    let whole = BATCH / rows;
    while started.elapsed() < Duration::from_secs(3) {
        for c in 0..whole {
            let numeric = &features.numeric[c * rows * width..(c + 1) * rows * width];
            let categories = &features.categories
                [c * rows * vigil::detect::CATEGORIES..(c + 1) * rows * vigil::detect::CATEGORIES];
            let inputs = detector.plan_inputs(numeric, categories, rows).unwrap();
            state
                .run_plan_with_eval(inputs, |session, op_state, node, inputs| {
                    let t = Instant::now();
                    let out = tract_onnx::tract_core::plan::eval(session, op_state, node, inputs);
                    spent[node.id] += t.elapsed();
                    out
                })
                .unwrap();
            chunks += 1;
        }
    }
    let wall = started.elapsed().as_secs_f64() * 1e6 / chunks as f64;
    let total: f64 = spent.iter().map(Duration::as_secs_f64).sum::<f64>() * 1e6 / chunks as f64;
    let mut nodes: Vec<_> = model
        .nodes()
        .iter()
        .map(|n| (spent[n.id].as_secs_f64() * 1e6 / chunks as f64, n))
        .filter(|(us, _)| *us > 0.0)
        .collect();
    nodes.sort_by(|a, b| b.0.total_cmp(&a.0));
    println!("chunk of {rows} rows: {wall:.1} µs a run, {total:.1} µs in the nodes' eval");
    println!("| node | op | µs per chunk | share |\n|---|---|---:|---:|");
    for (us, node) in nodes {
        println!(
            "| {} | {} | {us:.2} | {:.1} % |",
            node.name,
            node.op().name(),
            100.0 * us / total
        );
    }
}

/// The probe's (model loaded, after the batch) peak RSS in MiB.
fn probe_rss(records_csv: &Path) -> (f64, f64) {
    let output = Command::new(std::env::current_exe().unwrap())
        .env(RSS_PROBE, records_csv)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&output.stdout);
    let mut figures = text
        .split_whitespace()
        .map(|x| x.parse::<f64>().unwrap_or(0.0));
    (figures.next().unwrap_or(0.0), figures.next().unwrap_or(0.0))
}

fn peer_dir(root: &Path) -> String {
    std::env::var("PEER_DIR").unwrap_or_else(|_| root.join("target/peer").display().to_string())
}

struct Load {
    per_s: f64,
    p99_ms: f64,
}

/// wrk's script: POST the file `BODY` (JSON), with `TOKEN` as a bearer token when set;
/// at the end one line `WRK requests seconds p99_ms non_2xx errors`.
const WRK_SCRIPT: &str = r#"
local f = assert(io.open(os.getenv("BODY"), "rb")); wrk.body = f:read("*a"); f:close()
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
local token = os.getenv("TOKEN")
if token and #token > 0 then wrk.headers["Authorization"] = "Bearer " .. token end
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format("WRK %d %f %f %d %d\n", summary.requests, summary.duration / 1e6,
    latency:percentile(99) / 1000, e.status, e.connect + e.read + e.write + e.timeout))
end
"#;

/// Requests per second and p99 latency of `connections` keep-alive connections
/// posting `body` to `url` as fast as answers come, for 5 seconds after 1 s of
/// warm-up: wrk (Debian's; `tools/bootstrap.sh bench` installs it), the tool the
/// issue's figures came from, on one thread so the server keeps a core. A C client
/// on epoll costs the shared machine least; a server that closes connections (the
/// peer's gunicorn sync workers, after every answer) makes wrk reconnect, and the
/// reconnection counts in the latency.
fn load(url: &str, token: Option<&str>, body: &[u8], connections: usize) -> Load {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/bench");
    let (script, body_file) = (
        dir.join("post.lua"),
        dir.join(format!("body-{}.json", body.len())),
    );
    std::fs::write(&script, WRK_SCRIPT).unwrap();
    std::fs::write(&body_file, body).unwrap();
    let run = |secs: u32| {
        let output = Command::new("wrk")
            .args(["-t1", &format!("-c{connections}"), &format!("-d{secs}s")])
            .arg("-s")
            .arg(&script)
            .arg(url)
            .env("BODY", &body_file)
            .env("TOKEN", token.unwrap_or_default())
            .output()
            .expect("wrk (tools/bootstrap.sh bench installs it)");
        let text = String::from_utf8_lossy(&output.stdout);
        let line = text
            .lines()
            .find_map(|l| l.strip_prefix("WRK "))
            .unwrap_or_else(|| panic!("wrk printed no summary: {text}"));
        let f: Vec<f64> = line
            .split_whitespace()
            .map(|x| x.parse().unwrap())
            .collect();
        assert_eq!(f[3], 0.0, "{url}: {} answers were not 2xx", f[3]);
        Load {
            per_s: f[0] / f[1],
            p99_ms: f[2],
        }
    };
    run(1);
    run(5)
}

const PASSWORD: &str = "bench-admin-password-1";

/// The release vigil-local, on a free port.
struct VigilServer {
    child: Child,
    base: String,
}

impl VigilServer {
    fn start() -> Self {
        let port = free_port();
        let child = Command::new(env!("CARGO_BIN_EXE_vigil-local"))
            .args(["--port", &port.to_string()])
            .env("VIGIL_ADMIN_PASSWORD", PASSWORD)
            .env("RUST_LOG", "warn")
            .stdout(Stdio::null())
            .spawn()
            .expect("vigil-local");
        let base = format!("http://127.0.0.1:{port}");
        wait_for(port);
        Self { child, base }
    }

    async fn token(&self) -> String {
        support::admin_token(&reqwest::Client::new(), &self.base, PASSWORD).await
    }

    /// A line of /proc/<pid>/status in MiB (`VmRSS`, `VmHWM`).
    fn rss_mib(&self, line: &str) -> f64 {
        proc_status_mib(self.child.id(), line)
    }

    fn stop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn proc_status_mib(pid: u32, line: &str) -> f64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_default()
        .lines()
        .find(|l| l.starts_with(line))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|kb| kb.parse::<f64>().ok())
        .map_or(0.0, |kb| kb / 1024.0)
}

/// The peer's Flask app under gunicorn with 2 workers, as its README runs it.
struct PeerServer {
    child: Child,
    base: String,
}

impl PeerServer {
    fn start(root: &Path, peer: &str, python: &str) -> Option<Self> {
        let port = free_port();
        let gunicorn = PathBuf::from(python).with_file_name("gunicorn");
        let child = Command::new(gunicorn)
            .args(["-w", "2", "-b", &format!("127.0.0.1:{port}"), "app:app"])
            .current_dir(peer)
            .env("PEER_DIR", peer_dir(root))
            .env("OMP_NUM_THREADS", "1")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .ok()?;
        wait_for(port);
        Some(Self {
            child,
            base: format!("http://127.0.0.1:{port}"),
        })
    }

    fn stop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn wait_for(port: u16) {
    let started = Instant::now();
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "server on {port}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

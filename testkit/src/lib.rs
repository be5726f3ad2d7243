//! A minimal Lambda Runtime API (the HTTP interface the Lambda service offers a
//! function's runtime), so tests can run a function's real binary — `main`, config,
//! clients and the lambda_runtime loop included — and feed it events one at a time.
//!
//! Only what a function uses is implemented: `invocation/next`, `.../response`,
//! `.../error` and `init/error`.

pub mod apigateway;
#[cfg(feature = "notify")]
pub mod fanout;
pub mod faults;
#[cfg(feature = "detect")]
pub mod records;
pub mod rng;
pub mod threats;
pub mod users;

use axum::{
    Router,
    extract::{Path, State},
    http::{HeaderMap, HeaderValue, StatusCode},
    response::IntoResponse,
    routing::{get, post},
};
use serde_json::Value;
use std::{
    collections::HashMap,
    io::{BufRead, BufReader},
    process::{Child, Command, Stdio},
    sync::{Arc, Mutex},
    time::{Duration, Instant, SystemTime, UNIX_EPOCH},
};
use tokio::sync::{Mutex as AsyncMutex, mpsc, oneshot};

/// What the function answered to one event.
#[derive(Debug)]
pub enum Outcome {
    Response(Value),
    Error(Value),
}

type Waiters = Arc<Mutex<HashMap<String, oneshot::Sender<Outcome>>>>;

#[derive(Clone)]
struct Shared {
    events: Arc<AsyncMutex<mpsc::Receiver<(String, Value)>>>,
    waiters: Waiters,
    init_error: Arc<Mutex<Option<Value>>>,
}

pub struct RuntimeApi {
    addr: String,
    events: mpsc::Sender<(String, Value)>,
    waiters: Waiters,
    init_error: Arc<Mutex<Option<Value>>>,
    child: Option<Child>,
    stdout: Arc<Mutex<Vec<String>>>,
    next_id: u64,
}

impl RuntimeApi {
    /// Starts the emulator on a free loopback port.
    pub async fn start() -> Self {
        let (tx, rx) = mpsc::channel(16);
        let shared = Shared {
            events: Arc::new(AsyncMutex::new(rx)),
            waiters: Arc::default(),
            init_error: Arc::default(),
        };
        let app = Router::new()
            .route("/2018-06-01/runtime/invocation/next", get(next))
            .route(
                "/2018-06-01/runtime/invocation/{id}/response",
                post(response),
            )
            .route("/2018-06-01/runtime/invocation/{id}/error", post(error))
            .route("/2018-06-01/runtime/init/error", post(init_error))
            .with_state(shared.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap().to_string();
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        Self {
            addr,
            events: tx,
            waiters: shared.waiters,
            init_error: shared.init_error,
            child: None,
            stdout: Arc::default(),
            next_id: 0,
        }
    }

    /// Spawns a function binary pointed at this emulator, with Lambda's environment
    /// plus `env`. Its stdout (where EMF metric lines go) is kept for
    /// [`stdout_lines`](Self::stdout_lines) and echoed to stderr.
    pub fn spawn_function(&mut self, binary: &str, name: &str, env: &[(&str, impl AsRef<str>)]) {
        let mut command = Command::new(binary);
        command
            .env("AWS_LAMBDA_RUNTIME_API", &self.addr)
            .env("AWS_LAMBDA_FUNCTION_NAME", name)
            .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
            .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128")
            .env("AWS_LAMBDA_LOG_GROUP_NAME", format!("/aws/lambda/{name}"))
            .env("AWS_LAMBDA_LOG_STREAM_NAME", "test")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit());
        for (k, v) in env {
            command.env(k, v.as_ref());
        }
        let mut child = command.spawn().expect("spawn the function binary");
        let stdout = child.stdout.take().expect("piped stdout");
        let lines = self.stdout.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                eprintln!("{line}");
                lines.lock().unwrap().push(line);
            }
        });
        self.child = Some(child);
    }

    /// The lines the function has written to stdout so far.
    pub fn stdout_lines(&self) -> Vec<String> {
        self.stdout.lock().unwrap().clone()
    }

    /// Waits for a stdout line that `matches`, and returns it. The 30 s are a deadline
    /// for a broken run, generous for an overloaded CI machine; a good run returns as
    /// soon as the line is read.
    pub async fn wait_for_stdout(&self, matches: impl Fn(&str) -> bool) -> Option<String> {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Some(line) = self.stdout_lines().into_iter().find(|l| matches(l)) {
                return Some(line);
            }
            if Instant::now() > deadline {
                return None;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Sends one event and returns the function's response; panics when the function
    /// reports an error instead.
    pub async fn respond(&mut self, event: Value) -> Value {
        match self.invoke(event).await {
            Outcome::Response(response) => response,
            Outcome::Error(e) => panic!("the function reported an error: {e}"),
        }
    }

    /// Sends one event and waits for the function's answer.
    pub async fn invoke(&mut self, event: Value) -> Outcome {
        self.next_id += 1;
        let id = format!("req-{}", self.next_id);
        let (tx, rx) = oneshot::channel();
        self.waiters.lock().unwrap().insert(id.clone(), tx);
        self.events.send((id, event)).await.unwrap();
        match tokio::time::timeout(Duration::from_secs(30), rx).await {
            Ok(Ok(outcome)) => outcome,
            _ => panic!(
                "the function did not answer in 30 s (init error: {:?})",
                self.init_error.lock().unwrap()
            ),
        }
    }
}

impl Drop for RuntimeApi {
    fn drop(&mut self) {
        if let Some(child) = &mut self.child {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

async fn next(State(shared): State<Shared>) -> impl IntoResponse {
    let Some((id, event)) = shared.events.lock().await.recv().await else {
        return (StatusCode::GONE, HeaderMap::new(), String::new());
    };
    let deadline = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis()
        + 30_000;
    let mut headers = HeaderMap::new();
    headers.insert(
        "lambda-runtime-aws-request-id",
        HeaderValue::from_str(&id).unwrap(),
    );
    headers.insert(
        "lambda-runtime-deadline-ms",
        HeaderValue::from(deadline as u64),
    );
    headers.insert(
        "lambda-runtime-invoked-function-arn",
        HeaderValue::from_static("arn:aws:lambda:us-east-1:123456789012:function:test"),
    );
    headers.insert(
        "lambda-runtime-trace-id",
        HeaderValue::from_static("Root=1-00000000-000000000000000000000000;Sampled=0"),
    );
    (StatusCode::OK, headers, event.to_string())
}

fn finish(shared: &Shared, id: &str, outcome: Outcome) -> StatusCode {
    if let Some(waiter) = shared.waiters.lock().unwrap().remove(id) {
        let _ = waiter.send(outcome);
    }
    StatusCode::ACCEPTED
}

async fn response(
    State(shared): State<Shared>,
    Path(id): Path<String>,
    body: String,
) -> StatusCode {
    let value = serde_json::from_str(&body).unwrap_or(Value::String(body));
    finish(&shared, &id, Outcome::Response(value))
}

async fn error(State(shared): State<Shared>, Path(id): Path<String>, body: String) -> StatusCode {
    let value = serde_json::from_str(&body).unwrap_or(Value::String(body));
    finish(&shared, &id, Outcome::Error(value))
}

async fn init_error(State(shared): State<Shared>, body: String) -> StatusCode {
    *shared.init_error.lock().unwrap() =
        Some(serde_json::from_str(&body).unwrap_or(Value::String(body)));
    StatusCode::ACCEPTED
}

/// Reads `events/<path>` from the repository root, with `{{token}}` replaced.
pub fn fixture(path: &str, token: &str) -> String {
    fixture_with(path, &[("{{token}}", token)])
}

/// Reads `events/<path>` with each `(placeholder, value)` replaced.
pub fn fixture_with(path: &str, replacements: &[(&str, &str)]) -> String {
    let full = format!("{}/../events/{path}", env!("CARGO_MANIFEST_DIR"));
    let mut text = std::fs::read_to_string(&full).unwrap_or_else(|e| panic!("{full}: {e}"));
    for (placeholder, value) in replacements {
        text = text.replace(placeholder, value);
    }
    text
}

/// Serves one API Gateway event (raw JSON) with `app`, parsed exactly as lambda_http
/// parses the runtime's payload; returns the status and the body (JSON, or a string).
pub async fn serve_event(app: axum::Router, raw: &str) -> (u16, Value) {
    use http_body_util::BodyExt;
    use tower::ServiceExt;
    let request = lambda_http::request::from_str(raw)
        .unwrap_or_else(|e| panic!("not an API Gateway event: {e}"));
    let response = app.oneshot(request).await.unwrap();
    let status = response.status().as_u16();
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    let body = serde_json::from_slice(&bytes)
        .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into_owned()));
    (status, body)
}

/// In-process services with an embedded store and an `admin`; returns them and an
/// admin token.
pub async fn embedded_services() -> (vigil::startup::Services, String) {
    let config = vigil::config::Config::from_lookup(|_| None).unwrap();
    let services =
        vigil::startup::Services::with_stores(config, None, vigil::store::Stores::embedded())
            .await
            .unwrap();
    services
        .ensure_admin(
            vigil::domain::Password::parse_new("change-me-to-the-admin-password").unwrap(),
        )
        .await
        .unwrap();
    let admin = vigil::domain::Username::parse("admin").unwrap();
    let token = services
        .tokens
        .issue(&admin, vigil::domain::Role::Admin, chrono::Utc::now())
        .unwrap()
        .token;
    (services, token)
}

/// The status and body of an API Gateway response a function binary returned: the
/// body as JSON when it parses, else as a string (CSV, say).
pub fn api_response(response: &Value) -> (u16, Value) {
    let status = response["statusCode"].as_u64().expect("statusCode") as u16;
    let raw = response["body"].as_str().unwrap_or("");
    let body = serde_json::from_str(raw).unwrap_or_else(|_| Value::String(raw.to_owned()));
    (status, body)
}

/// The HS256 key the function binaries get in tests that start them.
pub const TEST_JWT_SECRET: &str = "a-test-secret-of-at-least-32-bytes!";

/// The environment a function binary needs to use `tables` (in moto) with
/// [`TEST_JWT_SECRET`]; pass it to [`RuntimeApi::spawn_function`].
pub fn lambda_env(tables: &vigil::config::TableNames) -> Vec<(&'static str, String)> {
    vec![
        ("VIGIL_USERS_TABLE", tables.users.clone()),
        ("VIGIL_ALERTS_TABLE", tables.alerts.clone()),
        ("VIGIL_CONNECTIONS_TABLE", tables.connections.clone()),
        ("VIGIL_JWT_SECRET", TEST_JWT_SECRET.to_owned()),
    ]
}

/// An `admin` in `tables` and a token for them that a function binary started with
/// [`lambda_env`] accepts.
pub async fn dynamo_admin_token(tables: &vigil::config::TableNames) -> String {
    let env: HashMap<&str, String> = lambda_env(tables)
        .into_iter()
        .chain([("VIGIL_STORE", "dynamodb".to_owned())])
        .collect();
    let config = vigil::config::Config::from_lookup(|k| env.get(k).cloned()).unwrap();
    let services = vigil::startup::Services::from_config(config).await.unwrap();
    services
        .ensure_admin(vigil::domain::Password::parse_new("an-admin-password-for-tests").unwrap())
        .await
        .unwrap();
    let admin = vigil::domain::Username::parse("admin").unwrap();
    services
        .tokens
        .issue(&admin, vigil::domain::Role::Admin, chrono::Utc::now())
        .unwrap()
        .token
}

/// A function binary started as Lambda runs it, over fresh DynamoDB tables in moto
/// that hold an `admin`, with `extra_env` added; returns it and an admin token, or
/// `None` when the tests run without moto (see [`aws_available`]).
pub async fn start_function_on_dynamodb(
    binary: &str,
    name: &str,
    extra_env: &[(&'static str, &str)],
) -> Option<(RuntimeApi, String)> {
    let tables = dynamo_tables().await?;
    let token = dynamo_admin_token(&tables).await;
    let mut env = lambda_env(&tables);
    env.extend(extra_env.iter().map(|(k, v)| (*k, (*v).to_owned())));
    let mut runtime = RuntimeApi::start().await;
    runtime.spawn_function(binary, name, &env);
    Some((runtime, token))
}

/// Whether the tests that need moto (DynamoDB, SNS, SQS over the wire) can run.
/// `make test` starts moto and sets `VIGIL_TEST_AWS`; in CI its absence is a failure.
pub fn aws_available() -> bool {
    if std::env::var("VIGIL_TEST_AWS").is_ok() {
        return true;
    }
    assert!(
        std::env::var("CI").is_err(),
        "CI must run the tests against moto: run `make test`"
    );
    eprintln!("skipped: no moto endpoint (run `make test`)");
    false
}

/// Fresh, uniquely named DynamoDB tables at `AWS_ENDPOINT_URL` (moto), or `None` when
/// the tests run without moto (see [`aws_available`]).
pub async fn dynamo_tables() -> Option<vigil::config::TableNames> {
    if !aws_available() {
        return None;
    }
    let aws = vigil::aws::load_sdk_config().await;
    let client = aws_sdk_dynamodb::Client::new(&aws);
    let run = ulid::Ulid::new().to_string().to_lowercase();
    let tables = vigil::config::TableNames {
        users: format!("users-{run}"),
        alerts: format!("alerts-{run}"),
        connections: format!("connections-{run}"),
    };
    vigil::store::dynamodb::create_tables(&client, &tables)
        .await
        .expect("create tables");
    Some(tables)
}

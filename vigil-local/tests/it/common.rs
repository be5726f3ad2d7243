//! A Vigil server spawned on a free loopback port per test, and one helper per endpoint,
//! so tests read like the API's use.

use reqwest::{Client, Response};
use serde_json::{Value, json};
use std::sync::{Arc, OnceLock};
use vigil::{config::Config, detect::Detector, startup::Services};

/// The bundled model, loaded once per test binary (tract optimisation takes a moment).
pub fn detector() -> Arc<Detector> {
    static DETECTOR: OnceLock<Arc<Detector>> = OnceLock::new();
    DETECTOR
        .get_or_init(|| Arc::new(Detector::bundled().expect("bundled model")))
        .clone()
}

pub const ADMIN_PASSWORD: &str = "admin-password-for-tests";

pub struct TestApp {
    pub base: String,
    pub client: Client,
    pub services: Services,
}

impl TestApp {
    /// A fresh server with an embedded store and the user `admin`, its change feed
    /// wired to notifications (logged) and the live WebSocket, as `make run` does.
    pub async fn spawn() -> Self {
        let config = Config::from_lookup(|_| None).expect("default config");
        let (stores, changes) = vigil_local::stores(&config, None);
        let services = Services::with_stores(config, None, stores)
            .await
            .expect("services");
        let live = vigil_local::live_feed();
        vigil_local::start_notifications(&services, changes, None, live.clone()).await;
        services
            .ensure_admin(vigil::domain::Password::parse_new(ADMIN_PASSWORD).unwrap())
            .await
            .expect("admin");
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let app = vigil_local::app(&services, detector(), &live);
        let app = app.into_make_service_with_connect_info::<std::net::SocketAddr>();
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        Self {
            base,
            client: Client::new(),
            services,
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    /// `GET path`, with a bearer token when given.
    pub async fn get(&self, path: &str, token: Option<&str>) -> Response {
        let mut request = self.client.get(self.url(path));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        request.send().await.unwrap()
    }

    /// A browser's CORS preflight for `method path` from `origin`.
    pub async fn preflight(&self, path: &str, origin: &str, method: &str) -> Response {
        self.client
            .request(reqwest::Method::OPTIONS, self.url(path))
            .header("Origin", origin)
            .header("Access-Control-Request-Method", method)
            .header(
                "Access-Control-Request-Headers",
                "authorization,content-type",
            )
            .send()
            .await
            .unwrap()
    }

    /// `GET /alerts` as a page on `origin` sends it.
    pub async fn list_alerts_from(&self, token: &str, origin: &str) -> Response {
        self.client
            .get(self.url("/alerts"))
            .header("Origin", origin)
            .bearer_auth(token)
            .send()
            .await
            .unwrap()
    }

    pub async fn login(&self, username: &str, password: &str) -> Response {
        self.client
            .post(self.url("/auth/login"))
            .json(&json!({"username": username, "password": password}))
            .send()
            .await
            .unwrap()
    }

    /// Logs in and returns the token; panics unless the login succeeds.
    pub async fn token(&self, username: &str, password: &str) -> String {
        let response = self.login(username, password).await;
        assert_eq!(response.status(), 200, "login as {username}");
        let body: Value = response.json().await.unwrap();
        body["token"].as_str().unwrap().to_owned()
    }

    pub async fn admin_token(&self) -> String {
        self.token("admin", ADMIN_PASSWORD).await
    }

    pub async fn register(&self, token: &str, body: Value) -> Response {
        self.client
            .post(self.url("/auth/register"))
            .bearer_auth(token)
            .json(&body)
            .send()
            .await
            .unwrap()
    }

    /// Registers `username` with `role` (as admin) and returns a token for them.
    pub async fn user_token(&self, username: &str, role: &str) -> String {
        let password = format!("{username}-password-1");
        let admin = self.admin_token().await;
        let response = self
            .register(
                &admin,
                json!({"username": username, "password": password, "role": role}),
            )
            .await;
        assert_eq!(response.status(), 201, "register {username}");
        self.token(username, &password).await
    }

    pub async fn me(&self, token: &str) -> Response {
        self.client
            .get(self.url("/auth/me"))
            .bearer_auth(token)
            .send()
            .await
            .unwrap()
    }

    pub async fn list_users(&self, token: &str) -> Response {
        self.client
            .get(self.url("/auth/users"))
            .bearer_auth(token)
            .send()
            .await
            .unwrap()
    }

    pub async fn predict_json(&self, token: &str, body: Value) -> Response {
        self.client
            .post(self.url("/threat-detection/predict"))
            .bearer_auth(token)
            .json(&body)
            .send()
            .await
            .unwrap()
    }

    /// POST /threat-detection/predict with a query string and a content type of the
    /// test's choosing.
    pub async fn predict_with_key(&self, token: &str, key: &str, body: &Value) -> Response {
        self.client
            .post(self.url("/threat-detection/predict"))
            .bearer_auth(token)
            .header("idempotency-key", key)
            .json(body)
            .send()
            .await
            .unwrap()
    }

    pub async fn predict_raw(
        &self,
        token: &str,
        query: &str,
        content_type: &str,
        body: String,
    ) -> Response {
        self.client
            .post(self.url(&format!("/threat-detection/predict{query}")))
            .bearer_auth(token)
            .header("content-type", content_type)
            .body(body)
            .send()
            .await
            .unwrap()
    }

    pub async fn predict_csv(&self, token: &str, csv: String) -> Response {
        self.client
            .post(self.url("/threat-detection/predict"))
            .bearer_auth(token)
            .header("content-type", "text/csv")
            .body(csv)
            .send()
            .await
            .unwrap()
    }

    pub async fn list_alerts(&self, token: &str, query: &str) -> Response {
        self.client
            .get(self.url(&format!("/alerts?{query}")))
            .bearer_auth(token)
            .send()
            .await
            .unwrap()
    }

    pub async fn create_alert(&self, token: &str, body: Value) -> Response {
        self.client
            .post(self.url("/alerts"))
            .bearer_auth(token)
            .json(&body)
            .send()
            .await
            .unwrap()
    }

    pub async fn get_alert(&self, token: &str, id: &str) -> Response {
        self.client
            .get(self.url(&format!("/alerts/{id}")))
            .bearer_auth(token)
            .send()
            .await
            .unwrap()
    }

    pub async fn alert_history(&self, token: &str, id: &str, query: &str) -> Response {
        self.client
            .get(self.url(&format!("/alerts/{id}/history?{query}")))
            .bearer_auth(token)
            .send()
            .await
            .unwrap()
    }

    pub async fn update_alert(&self, token: &str, id: &str, body: Value) -> Response {
        self.client
            .put(self.url(&format!("/alerts/{id}")))
            .bearer_auth(token)
            .json(&body)
            .send()
            .await
            .unwrap()
    }

    pub async fn bulk_alerts(&self, token: &str, body: Value) -> Response {
        self.client
            .post(self.url("/alerts/bulk"))
            .bearer_auth(token)
            .json(&body)
            .send()
            .await
            .unwrap()
    }

    pub async fn feedback(&self, token: &str, query: &str) -> Response {
        self.client
            .get(self.url(&format!("/feedback?{query}")))
            .bearer_auth(token)
            .send()
            .await
            .unwrap()
    }

    pub async fn report(&self, token: &str, query: &str) -> Response {
        self.client
            .get(self.url(&format!("/reports?{query}")))
            .bearer_auth(token)
            .send()
            .await
            .unwrap()
    }

    pub async fn ws_ticket(&self, token: &str) -> Response {
        self.client
            .post(self.url("/auth/ws-ticket"))
            .bearer_auth(token)
            .send()
            .await
            .unwrap()
    }

    /// Opens `/ws` with `ticket`: the socket, or the HTTP status the handshake got.
    pub async fn open_ws(&self, ticket: &str) -> Result<LiveSocket, u16> {
        let url = format!(
            "{}/ws?ticket={ticket}",
            self.base.replace("http://", "ws://")
        );
        match tokio_tungstenite::connect_async(url).await {
            Ok((socket, _)) => Ok(LiveSocket(socket)),
            Err(tokio_tungstenite::tungstenite::Error::Http(response)) => {
                Err(response.status().as_u16())
            }
            Err(e) => panic!("the WebSocket handshake failed: {e}"),
        }
    }

    /// A live connection for the holder of `token`: a ticket, then `/ws`.
    pub async fn live(&self, token: &str) -> LiveSocket {
        let ticket = self.ticket(token).await;
        self.open_ws(&ticket).await.expect("the ticket opens /ws")
    }

    pub async fn ticket(&self, token: &str) -> String {
        let response = self.ws_ticket(token).await;
        assert_eq!(response.status(), 201);
        let body: Value = response.json().await.unwrap();
        body["ticket"].as_str().unwrap().to_owned()
    }

    pub async fn update_user(&self, token: &str, username: &str, body: Value) -> Response {
        self.client
            .put(self.url(&format!("/auth/users/{username}")))
            .bearer_auth(token)
            .json(&body)
            .send()
            .await
            .unwrap()
    }
}

/// Asserts a problem+json answer with `status`, returning its body.
pub async fn problem(response: Response, status: u16) -> Value {
    assert_eq!(response.status(), status);
    assert_eq!(
        response.headers()["content-type"],
        "application/problem+json"
    );
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["status"], status);
    body
}

/// The field names a 400 body complains about.
pub fn fields(problem: &Value) -> Vec<String> {
    problem["errors"]
        .as_array()
        .map(|errors| {
            errors
                .iter()
                .map(|e| e["field"].as_str().unwrap().to_owned())
                .collect()
        })
        .unwrap_or_default()
}

/// A client of the live WebSocket, as a browser uses it.
pub struct LiveSocket(
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>,
);

/// What a live socket got next.
#[derive(Debug, PartialEq)]
pub enum Received {
    Message(Value),
    /// The server closed the connection, with this close code.
    Closed(Option<u16>),
    /// Nothing within the wait.
    Nothing,
}

impl LiveSocket {
    pub async fn send(&mut self, message: Value) {
        use futures::SinkExt;
        self.0
            .send(tokio_tungstenite::tungstenite::Message::text(
                message.to_string(),
            ))
            .await
            .unwrap();
    }

    /// Sends `subscribe` with `filters` and returns the reply.
    pub async fn subscribe(&mut self, filters: Value) -> Value {
        let mut message = json!({"action": "subscribe"});
        message
            .as_object_mut()
            .unwrap()
            .extend(filters.as_object().cloned().unwrap_or_default());
        self.send(message).await;
        match self.next(std::time::Duration::from_secs(5)).await {
            Received::Message(reply) => reply,
            other => panic!("no reply to subscribe: {other:?}"),
        }
    }

    /// The next text message, close or nothing, waiting at most `wait`.
    pub async fn next(&mut self, wait: std::time::Duration) -> Received {
        use futures::StreamExt;
        use tokio_tungstenite::tungstenite::Message;
        let deadline = tokio::time::Instant::now() + wait;
        loop {
            match tokio::time::timeout_at(deadline, self.0.next()).await {
                Err(_) => return Received::Nothing,
                Ok(Some(Ok(Message::Text(text)))) => {
                    return Received::Message(serde_json::from_str(text.as_str()).unwrap());
                }
                Ok(Some(Ok(Message::Close(frame)))) => {
                    return Received::Closed(frame.map(|f| u16::from(f.code)));
                }
                Ok(Some(Ok(_))) => continue,
                Ok(Some(Err(_)) | None) => return Received::Closed(None),
            }
        }
    }
}

/// Asserts that the committed contract `file` (at the repository root) is what the code
/// generates; with `VIGIL_UPDATE_OPENAPI` set, writes it first.
pub fn assert_committed(file: &str, generated: &str) {
    let path = format!("{}/../{file}", env!("CARGO_MANIFEST_DIR"));
    if std::env::var_os("VIGIL_UPDATE_OPENAPI").is_some() {
        std::fs::write(&path, generated).unwrap();
    }
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        committed == generated,
        "{file} differs from what the code generates; run \
         `VIGIL_UPDATE_OPENAPI=1 cargo test -p vigil-local` and commit it"
    );
}

//! API Gateway's side of WebSocket connections, in moto (`tools/moto_server.py`): open
//! a connection as a browser's handshake would, and read what the Management API
//! posted to it. Plain HTTP/1.0 over a socket: two test routes need no client crate.

use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// moto's address (`AWS_ENDPOINT_URL`), which also serves the Management API.
pub fn endpoint() -> String {
    std::env::var("AWS_ENDPOINT_URL").expect("AWS_ENDPOINT_URL (make test starts moto)")
}

async fn request(method: &str, path: &str) -> (u16, Value) {
    let endpoint = endpoint();
    let host = endpoint.trim_start_matches("http://").trim_end_matches('/');
    let mut stream = tokio::net::TcpStream::connect(host)
        .await
        .expect("reach moto");
    let head = format!(
        "{method} {path} HTTP/1.0\r\nHost: {host}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    let mut raw = String::new();
    stream.read_to_string(&mut raw).await.unwrap();
    let status = raw
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let body = raw.split_once("\r\n\r\n").map_or("", |(_, b)| b);
    (status, serde_json::from_str(body).unwrap_or(Value::Null))
}

/// Opens connection `id`, as API Gateway does when a browser connects.
pub async fn open_connection(id: &str) {
    let (status, _) = request("POST", &format!("/_vigil/connections/{id}")).await;
    assert_eq!(status, 201, "open connection {id} in moto");
}

/// What was posted to connection `id`, in order; `None` once it is closed.
pub async fn posts(id: &str) -> Option<Vec<Value>> {
    let (status, body) = request("GET", &format!("/_vigil/connections/{id}")).await;
    (status == 200).then(|| {
        body["posts"]
            .as_array()
            .map(|posts| {
                posts
                    .iter()
                    .map(|p| serde_json::from_str(p.as_str().unwrap_or("")).unwrap_or(Value::Null))
                    .collect()
            })
            .unwrap_or_default()
    })
}

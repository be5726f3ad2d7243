//! A fault-injecting TCP proxy for tests (Toxiproxy is not packaged here). Put it
//! between a client and a server (Vigil's stores and moto) and it loses requests
//! before they arrive, loses answers after the request was served, or delays both, at
//! the rates it is set to. Losing an answer is the hard case: the server did the
//! work, the client cannot know.
//!
//! HTTP/1.1 on one connection is request, answer, request, answer: the proxy decides
//! per chunk it forwards, and a lost chunk closes the connection both ways.

use std::{
    net::SocketAddr,
    sync::{
        Arc,
        atomic::{AtomicU32, AtomicU64, Ordering},
    },
    time::Duration,
};
use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::{TcpListener, TcpStream},
};

#[derive(Default)]
struct Faults {
    /// Per mille of request chunks dropped (with the connection) before forwarding.
    lose_request: AtomicU32,
    /// Per mille of answer chunks dropped (with the connection) after the server
    /// answered.
    lose_response: AtomicU32,
    delay_ms: AtomicU64,
    state: AtomicU64,
    lost_requests: AtomicU64,
    lost_responses: AtomicU64,
}

impl Faults {
    /// xorshift64*: reproducible enough, no dependency.
    fn roll(&self, per_mille: &AtomicU32) -> bool {
        let p = per_mille.load(Ordering::Relaxed);
        if p == 0 {
            return false;
        }
        let mut x = self.state.load(Ordering::Relaxed);
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.state.store(x, Ordering::Relaxed);
        (x.wrapping_mul(0x2545_f491_4f6c_dd1d) >> 33) % 1000 < u64::from(p)
    }

    async fn delay(&self) {
        let ms = self.delay_ms.load(Ordering::Relaxed);
        if ms > 0 {
            tokio::time::sleep(Duration::from_millis(ms)).await;
        }
    }
}

/// A running proxy; it stops when dropped.
pub struct FaultyProxy {
    pub addr: SocketAddr,
    faults: Arc<Faults>,
    task: tokio::task::JoinHandle<()>,
}

impl FaultyProxy {
    /// Listens on a free loopback port and forwards to `upstream`, faultless until
    /// [`FaultyProxy::set`].
    pub async fn start(upstream: SocketAddr) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("address");
        let faults = Arc::new(Faults {
            state: AtomicU64::new(0x9e37_79b9_7f4a_7c15),
            ..Faults::default()
        });
        let shared = faults.clone();
        let task = tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                tokio::spawn(pump(client, upstream, shared.clone()));
            }
        });
        Self { addr, faults, task }
    }

    /// `http://<addr>`, for a client's endpoint URL.
    pub fn endpoint(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Loses that share of requests and of answers (0.0 to 1.0), and delays every
    /// forwarded chunk by `delay`.
    pub fn set(&self, lose_request: f64, lose_response: f64, delay: Duration) {
        let per_mille = |p: f64| (p.clamp(0.0, 1.0) * 1000.0).round() as u32;
        self.faults
            .lose_request
            .store(per_mille(lose_request), Ordering::Relaxed);
        self.faults
            .lose_response
            .store(per_mille(lose_response), Ordering::Relaxed);
        self.faults
            .delay_ms
            .store(delay.as_millis() as u64, Ordering::Relaxed);
    }

    /// No more faults.
    pub fn heal(&self) {
        self.set(0.0, 0.0, Duration::ZERO);
    }

    /// How many requests and answers it has lost so far.
    pub fn lost(&self) -> (u64, u64) {
        (
            self.faults.lost_requests.load(Ordering::Relaxed),
            self.faults.lost_responses.load(Ordering::Relaxed),
        )
    }
}

impl Drop for FaultyProxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn pump(client: TcpStream, upstream: SocketAddr, faults: Arc<Faults>) {
    let Ok(server) = TcpStream::connect(upstream).await else {
        return;
    };
    let (mut client_read, mut client_write) = client.into_split();
    let (mut server_read, mut server_write) = server.into_split();
    let requests = async {
        let mut buf = vec![0u8; 64 * 1024];
        loop {
            let n = client_read.read(&mut buf).await.map_err(drop)?;
            if n == 0 {
                return Ok(());
            }
            if faults.roll(&faults.lose_request) {
                faults.lost_requests.fetch_add(1, Ordering::Relaxed);
                return Err(());
            }
            faults.delay().await;
            server_write.write_all(&buf[..n]).await.map_err(drop)?;
        }
    };
    let answers = async {
        let mut buf = vec![0u8; 64 * 1024];
        loop {
            let n = server_read.read(&mut buf).await.map_err(drop)?;
            if n == 0 {
                return Ok::<(), ()>(());
            }
            if faults.roll(&faults.lose_response) {
                faults.lost_responses.fetch_add(1, Ordering::Relaxed);
                return Err(());
            }
            faults.delay().await;
            client_write.write_all(&buf[..n]).await.map_err(drop)?;
        }
    };
    tokio::pin!(requests, answers);
    // Ends (closing both connections) when answers end, or when a request is lost;
    // a client that merely finished sending still gets its answers.
    tokio::select! {
        sent = &mut requests => if sent.is_ok() { let _ = answers.await; },
        _ = &mut answers => {}
    }
}

//! The HTTP client under every AWS SDK client in Vigil: HTTP/1.1, TLS by rustls on ring,
//! one connection pool per process.
//!
//! Why our own and not `aws-smithy-http-client`, the SDK's client on these same parts
//! (hyper-util's pooled client, hyper-rustls): that one always links HTTP/2 (the `h2`
//! crate and hyper's HTTP/2 half) and a proxy layer, 0.66 MB of predict's binary and
//! 0.3 MB of its zip as measured, and predict's package is held to 6 MB. Vigil needs neither: DynamoDB, SNS, SQS, Secrets
//! Manager and the API Gateway Management API all speak HTTP/1.1, and a Lambda reaches
//! them directly. What the SDK relies on from its client is kept, and is here:
//!
//! - the connect timeout (TCP and TLS handshake) and read timeout (until the answer's
//!   head) that the SDK configures, per [`HttpConnectorSettings`];
//! - errors sorted the way the SDK's retry policy reads them: a timeout, an I/O failure
//!   (both retried), a bad request (not), or other;
//! - one pool for every SDK client of the process, so a warm Lambda reuses its
//!   connections whichever client calls;
//! - plain `http://` for `AWS_ENDPOINT_URL` (moto in tests, DynamoDB Local).
//!
//! Left out, with reasons: a proxy (the SDK's client supports one only when configured,
//! and Vigil never configured it); and the SDK's "connection poisoning" after a timeout,
//! which needs the client to expose its connections: here a request that times out is
//! dropped, and hyper closes an HTTP/1.1 connection whose exchange was dropped instead
//! of pooling it, which is what poisoning is for.

use aws_smithy_runtime_api::client::{
    connector_metadata::ConnectorMetadata,
    http::{
        HttpClient, HttpConnector, HttpConnectorFuture, HttpConnectorSettings, SharedHttpConnector,
    },
    orchestrator::HttpRequest,
    result::ConnectorError,
    runtime_components::RuntimeComponents,
};
use aws_smithy_runtime_api::http::Response;
use aws_smithy_types::body::SdkBody;
use hyper_rustls::HttpsConnector;
use hyper_util::{
    client::legacy::{Client, connect::HttpConnector as TcpConnector},
    rt::{TokioExecutor, TokioTimer},
};
use std::{
    error::Error,
    fmt,
    future::Future,
    pin::Pin,
    sync::{Arc, Mutex},
    task::{Context, Poll},
    time::Duration,
};

type BoxError = Box<dyn Error + Send + Sync>;
type Pool = Client<WithinTimeout<HttpsConnector<TcpConnector>>, SdkBody>;

/// The SDK's HTTP client (see the module's docs). Cheap to clone: clones share the
/// TLS configuration and the pools.
#[derive(Clone)]
pub struct Https {
    tls: Arc<rustls::ClientConfig>,
    /// A connector per distinct pair of timeouts the SDK asks for (in practice one);
    /// each holds a pool, so connections are shared by every client with those settings.
    connectors: Arc<Mutex<Vec<(Timeouts, SharedHttpConnector)>>>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Timeouts {
    connect: Option<Duration>,
    read: Option<Duration>,
}

impl Https {
    /// Loads the system's trusted roots once. Without any (a bare container), HTTPS
    /// calls fail at the handshake with an error that says so; `http://` endpoints work.
    pub fn new() -> Self {
        let found = rustls_native_certs::load_native_certs();
        if !found.errors.is_empty() {
            tracing::warn!(errors = ?found.errors, "some trusted root certificates could not be read");
        }
        let mut roots = rustls::RootCertStore::empty();
        let (valid, _invalid) = roots.add_parsable_certificates(found.certs);
        if valid == 0 {
            tracing::warn!("no trusted root certificates found: HTTPS calls to AWS will fail");
        }
        Self::trusting(roots)
    }

    /// The client, trusting `roots` only.
    fn trusting(roots: rustls::RootCertStore) -> Self {
        let tls = rustls::ClientConfig::builder_with_provider(Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .expect("ring supports rustls' default protocol versions")
        .with_root_certificates(roots)
        .with_no_client_auth();
        Self {
            tls: Arc::new(tls),
            connectors: Arc::default(),
        }
    }

    fn connector(&self, timeouts: Timeouts) -> SharedHttpConnector {
        let mut connectors = self.connectors.lock().unwrap_or_else(|e| e.into_inner());
        if let Some((_, connector)) = connectors.iter().find(|(t, _)| *t == timeouts) {
            return connector.clone();
        }
        let mut tcp = TcpConnector::new();
        // hyper-rustls decides the scheme; the TCP connector must let https through.
        tcp.enforce_http(false);
        tcp.set_nodelay(true);
        let https = hyper_rustls::HttpsConnectorBuilder::new()
            .with_tls_config((*self.tls).clone())
            .https_or_http()
            .enable_http1()
            .wrap_connector(tcp);
        let pool = Client::builder(TokioExecutor::new())
            // Without a timer the pool never closes idle connections.
            .pool_timer(TokioTimer::new())
            .build(WithinTimeout {
                inner: https,
                limit: timeouts.connect,
            });
        let connector = SharedHttpConnector::new(Connector {
            pool,
            read_timeout: timeouts.read,
        });
        connectors.push((timeouts, connector.clone()));
        connector
    }
}

impl Default for Https {
    fn default() -> Self {
        Self::new()
    }
}

impl fmt::Debug for Https {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Https").finish_non_exhaustive()
    }
}

impl HttpClient for Https {
    fn http_connector(
        &self,
        settings: &HttpConnectorSettings,
        _components: &RuntimeComponents,
    ) -> SharedHttpConnector {
        self.connector(Timeouts {
            connect: settings.connect_timeout(),
            read: settings.read_timeout(),
        })
    }

    fn connector_metadata(&self) -> Option<ConnectorMetadata> {
        Some(ConnectorMetadata::new("hyper", Some("1.x".into())))
    }
}

struct Connector {
    pool: Pool,
    read_timeout: Option<Duration>,
}

impl fmt::Debug for Connector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Connector")
            .field("read_timeout", &self.read_timeout)
            .finish_non_exhaustive()
    }
}

impl HttpConnector for Connector {
    fn call(&self, request: HttpRequest) -> HttpConnectorFuture {
        let request = match request.try_into_http1x() {
            Ok(request) => request,
            Err(e) => return HttpConnectorFuture::ready(Err(ConnectorError::user(e.into()))),
        };
        let answer = self.pool.request(request);
        let read_timeout = self.read_timeout;
        HttpConnectorFuture::new(async move {
            let answer = match read_timeout {
                Some(limit) => tokio::time::timeout(limit, answer)
                    .await
                    .map_err(|_| ConnectorError::timeout(Box::new(TimedOut::Read(limit))))?,
                None => answer.await,
            };
            let answer = answer.map_err(|e| classify(e.into()))?;
            Response::try_from(answer.map(SdkBody::from_body_1_x))
                .map_err(|e| ConnectorError::other(e.into(), None))
        })
    }
}

/// Sorts a failed exchange the way the SDK's retry policy reads it.
fn classify(error: BoxError) -> ConnectorError {
    let mut timed_out = false;
    let mut io = false;
    let mut incomplete = false;
    let mut user = false;
    let mut next: Option<&(dyn Error + 'static)> = Some(error.as_ref());
    while let Some(e) = next {
        if e.is::<TimedOut>() {
            timed_out = true;
        } else if let Some(e) = e.downcast_ref::<hyper_util::client::legacy::Error>() {
            io |= e.is_connect();
        } else if let Some(e) = e.downcast_ref::<hyper::Error>() {
            timed_out |= e.is_timeout();
            user |= e.is_user();
            io |= e.is_closed() || e.is_canceled();
            incomplete |= e.is_incomplete_message();
        } else if e.is::<std::io::Error>() {
            io = true;
        }
        next = e.source();
    }
    if timed_out {
        ConnectorError::timeout(error)
    } else if user {
        ConnectorError::user(error)
    } else if io {
        ConnectorError::io(error)
    } else if incomplete {
        // The connection closed mid-answer: worth another attempt.
        ConnectorError::other(
            error,
            Some(aws_smithy_types::retry::ErrorKind::TransientError),
        )
    } else {
        ConnectorError::other(error, None)
    }
}

/// A timeout this client imposed, named so the error says which one.
#[derive(Debug)]
enum TimedOut {
    Connect(Duration),
    Read(Duration),
}

impl fmt::Display for TimedOut {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Connect(d) => write!(f, "no connection within the connect timeout ({d:?})"),
            Self::Read(d) => write!(f, "no answer within the read timeout ({d:?})"),
        }
    }
}

impl Error for TimedOut {}

/// A connector whose connections must be made within `limit`: around hyper-rustls, so
/// the limit holds for the TCP connection and the TLS handshake together.
#[derive(Clone, Debug)]
struct WithinTimeout<C> {
    inner: C,
    limit: Option<Duration>,
}

impl<C> tower::Service<http::Uri> for WithinTimeout<C>
where
    C: tower::Service<http::Uri>,
    C::Response: Send,
    C::Error: Into<BoxError>,
    C::Future: Send + 'static,
{
    type Response = C::Response;
    type Error = BoxError;
    type Future = Pin<Box<dyn Future<Output = Result<C::Response, BoxError>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), BoxError>> {
        self.inner.poll_ready(cx).map_err(Into::into)
    }

    fn call(&mut self, uri: http::Uri) -> Self::Future {
        let connecting = self.inner.call(uri);
        let limit = self.limit;
        Box::pin(async move {
            match limit {
                Some(limit) => match tokio::time::timeout(limit, connecting).await {
                    Ok(connected) => connected.map_err(Into::into),
                    Err(_) => Err(Box::new(TimedOut::Connect(limit)) as BoxError),
                },
                None => connecting.await.map_err(Into::into),
            }
        })
    }
}

#[cfg(test)]
mod tests {
    //! The client against loopback servers that misbehave in one way each; the moto
    //! suites drive it through the SDK for everything else.
    use super::*;
    use aws_smithy_types::retry::ErrorKind;
    use tokio::{
        io::{AsyncReadExt, AsyncWriteExt},
        net::TcpListener,
    };

    const SHORT: Duration = Duration::from_millis(200);

    /// A server on loopback that runs `answer` on each connection.
    async fn server<F, Fut>(answer: F) -> String
    where
        F: Fn(tokio::net::TcpStream) -> Fut + Send + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                tokio::spawn(answer(stream));
            }
        });
        format!("{addr}")
    }

    async fn call(
        uri: &str,
        connect: Option<Duration>,
        read: Option<Duration>,
    ) -> Result<Response<SdkBody>, ConnectorError> {
        let connector = Https::new().connector(Timeouts { connect, read });
        connector.call(HttpRequest::get(uri).unwrap()).await
    }

    /// Every cause of `e`, as a reader of the log would see them.
    fn causes(e: &(dyn Error + 'static)) -> String {
        std::iter::successors(Some(e), |&e| e.source())
            .map(|e| e.to_string())
            .collect::<Vec<_>>()
            .join(": ")
    }

    /// `e` is a timeout, and its causes say which.
    fn assert_timed_out(e: &ConnectorError, which: &str) {
        assert!(e.is_timeout(), "{e:?}");
        assert!(causes(e).contains(which), "{}", causes(e));
    }

    /// Reads a request's head off `stream` and returns it.
    async fn read_head(stream: &mut (impl tokio::io::AsyncRead + Unpin)) -> Vec<u8> {
        let mut head = Vec::new();
        let mut buf = [0u8; 1024];
        while !head.windows(4).any(|w| w == b"\r\n\r\n") {
            let n = stream.read(&mut buf).await.unwrap();
            assert!(n > 0, "the request's head is complete");
            head.extend_from_slice(&buf[..n]);
        }
        head
    }

    #[tokio::test]
    async fn answers_come_back_whole_and_every_client_shares_one_pool() {
        use http_body_util::BodyExt;
        use std::sync::atomic::{AtomicUsize, Ordering};
        let connections = Arc::new(AtomicUsize::new(0));
        let counted = connections.clone();
        let addr = server(move |mut stream| {
            counted.fetch_add(1, Ordering::SeqCst);
            async move {
                for _ in 0..2 {
                    read_head(&mut stream).await;
                    stream
                        .write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok")
                        .await
                        .unwrap();
                }
            }
        })
        .await;
        let https = Https::new();
        let timeouts = Timeouts {
            connect: Some(SHORT),
            read: Some(SHORT),
        };
        // Two SDK clients with the same settings, one request each.
        for _ in 0..2 {
            let answer = https
                .connector(timeouts)
                .call(HttpRequest::get(format!("http://{addr}/")).unwrap())
                .await
                .unwrap();
            assert_eq!(answer.status().as_u16(), 200);
            let body = answer.into_body().collect().await.unwrap().to_bytes();
            assert_eq!(&body[..], b"ok");
        }
        assert_eq!(
            connections.load(Ordering::SeqCst),
            1,
            "the connection is reused"
        );
    }

    #[tokio::test]
    async fn https_verifies_the_server_and_speaks_http1_over_tls() {
        use rustls::pki_types::{CertificateDer, PrivateKeyDer, pem::PemObject};
        // A CA and a certificate for localhost made for this test alone (testdata/).
        let ca = CertificateDer::from_pem_slice(include_bytes!("testdata/ca.pem")).unwrap();
        let cert =
            CertificateDer::from_pem_slice(include_bytes!("testdata/localhost.pem")).unwrap();
        let key = PrivateKeyDer::from_pem_slice(include_bytes!("testdata/localhost.key")).unwrap();
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let server_tls = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_no_client_auth()
            .with_single_cert(vec![cert], key)
            .unwrap();
        let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(server_tls));
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let acceptor = acceptor.clone();
                tokio::spawn(async move {
                    // A client that does not trust the CA hangs up mid-handshake.
                    let Ok(mut tls) = acceptor.accept(stream).await else {
                        return;
                    };
                    let head = read_head(&mut tls).await;
                    assert!(head.starts_with(b"GET / HTTP/1.1\r\n"));
                    tls.write_all(b"HTTP/1.1 204 No Content\r\n\r\n")
                        .await
                        .unwrap();
                    tls.shutdown().await.unwrap();
                });
            }
        });
        let uri = format!("https://localhost:{port}/");
        let timeouts = Timeouts {
            connect: Some(Duration::from_secs(5)),
            read: Some(Duration::from_secs(5)),
        };

        let mut roots = rustls::RootCertStore::empty();
        roots.add(ca).unwrap();
        let trusted = Https::trusting(roots).connector(timeouts);
        let answer = trusted.call(HttpRequest::get(&uri).unwrap()).await.unwrap();
        assert_eq!(answer.status().as_u16(), 204);

        let untrusted = Https::trusting(rustls::RootCertStore::empty()).connector(timeouts);
        let e = untrusted
            .call(HttpRequest::get(&uri).unwrap())
            .await
            .unwrap_err();
        assert!(causes(&e).contains("UnknownIssuer"), "{}", causes(&e));
    }

    #[tokio::test]
    async fn a_refused_connection_is_an_io_failure_the_sdk_retries() {
        // Bind, then close: nothing listens on the port.
        let addr = TcpListener::bind("127.0.0.1:0")
            .await
            .unwrap()
            .local_addr()
            .unwrap();
        let e = call(&format!("http://{addr}/"), Some(SHORT), None)
            .await
            .unwrap_err();
        assert!(e.is_io(), "{e:?}");
    }

    #[tokio::test]
    async fn a_connection_closed_before_the_answer_is_retried() {
        let addr = server(|mut stream| async move {
            read_head(&mut stream).await;
        })
        .await;
        let e = call(&format!("http://{addr}/"), Some(SHORT), None)
            .await
            .unwrap_err();
        assert!(
            e.is_io() || e.as_other() == Some(ErrorKind::TransientError),
            "{e:?}"
        );
    }

    #[tokio::test]
    async fn no_answer_within_the_read_timeout_is_a_timeout_and_its_connection_is_not_reused() {
        use std::sync::atomic::{AtomicUsize, Ordering};
        // The first connection answers late (a 500 the client must never take for a
        // later request's answer); later ones answer at once.
        let connections = Arc::new(AtomicUsize::new(0));
        let counted = connections.clone();
        let addr = server(move |mut stream| {
            let first = counted.fetch_add(1, Ordering::SeqCst) == 0;
            async move {
                loop {
                    read_head(&mut stream).await;
                    if first {
                        tokio::time::sleep(SHORT * 2).await;
                    }
                    let status = if first { "500 Late" } else { "200 OK" };
                    let answer = format!("HTTP/1.1 {status}\r\ncontent-length: 0\r\n\r\n");
                    if stream.write_all(answer.as_bytes()).await.is_err() {
                        return;
                    }
                }
            }
        })
        .await;
        let connector = Https::new().connector(Timeouts {
            connect: Some(SHORT),
            read: Some(SHORT),
        });
        let get = || connector.call(HttpRequest::get(format!("http://{addr}/")).unwrap());

        let e = get().await.unwrap_err();
        assert_timed_out(&e, "no answer within the read timeout");
        tokio::time::sleep(SHORT * 3).await;
        let answer = get().await.unwrap();
        assert_eq!(answer.status().as_u16(), 200);
        assert_eq!(connections.load(Ordering::SeqCst), 2);
    }

    #[tokio::test]
    async fn a_tls_handshake_that_never_ends_is_a_connect_timeout() {
        // Accepts TCP, then says nothing: the handshake waits for a ServerHello.
        let addr = server(|stream| async move {
            tokio::time::sleep(Duration::from_secs(5)).await;
            drop(stream);
        })
        .await;
        let e = call(&format!("https://{addr}/"), Some(SHORT), None)
            .await
            .unwrap_err();
        assert_timed_out(&e, "no connection within the connect timeout");
    }
}

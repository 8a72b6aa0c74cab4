//! Outbound HTTP(S) to providers and callers' systems over kept-alive connections.
//!
//! wasmtime-wasi-http's `default_send_request` opens a new connection (and, for HTTPS, a new
//! TLS session) for every request. A delivery cell makes one provider call per message and
//! the notifier one callback per status, so at any rate that is a TCP and TLS handshake per
//! message on both ends. hyper-util's pooled client keeps connections per scheme and
//! authority and hands one back once the previous answer has been read to its end.
//!
//! The timeouts keep their meaning (see `hooks.rs`): the wait for a connection, for the
//! answer's head, and between two pieces of its body.
//!
//! Requests that only a wildcard pattern allows (`hooks::decide`) go through a client of
//! their own whose connections reach public addresses only: its resolver drops every
//! loopback, private, link-local, unspecified or otherwise special address a name resolves
//! to (a name may resolve to several; the public ones are used), and an IP literal, which
//! skips the resolver, is checked before connecting. So the address a connection is made
//! to is always one that was checked, whatever spelling the URL used (`2130706433`,
//! `[::ffff:127.0.0.1]`, a name that resolves to 10.x): nothing is resolved twice. Such
//! a refusal is `HttpRequestDenied`, like a host outside the patterns. Neither client
//! follows redirects: a 3xx is the component's answer.

use bytes::Bytes;
use http::Uri;
use http_body_util::BodyExt;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::connect::dns::Name;
use hyper_util::rt::{TokioExecutor, TokioIo};
use messaging_domain::callback_target::is_public_ip;
use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::task::{Context, Poll, ready};
use std::time::Duration;
use tokio::net::TcpStream;
use wasmtime_wasi_http::{Error, WasiBody};

type Connector = hyper_rustls::HttpsConnector<HttpConnector>;
type PublicConnector = hyper_rustls::HttpsConnector<PublicOnly>;

/// Idle connections are closed after this long: providers' load balancers drop idle
/// connections after about a minute, and a request on a connection the other end is
/// closing fails.
const IDLE_TIMEOUT: Duration = Duration::from_secs(30);

pub struct ConnectionPool {
    client: Client<Connector, WasiBody>,
    /// For requests allowed only by wildcard patterns: public addresses only.
    public: Client<PublicConnector, WasiBody>,
    /// The host's outbound timeout (`--outbound-timeout-ms`): for making a connection, and
    /// the default of every wait a component sets no timeout for (see `hooks.rs`).
    timeout: Duration,
}

impl ConnectionPool {
    /// A pool whose new connections must be made within `timeout`.
    pub fn new(timeout: Duration) -> ConnectionPool {
        fn configure<R>(http: &mut HttpConnector<R>, timeout: Duration) {
            http.enforce_http(false);
            http.set_nodelay(true);
            http.set_connect_timeout(Some(timeout));
        }
        fn tls<H>(http: H) -> hyper_rustls::HttpsConnector<H> {
            hyper_rustls::HttpsConnectorBuilder::new()
                .with_webpki_roots()
                .https_or_http()
                .enable_http1()
                .wrap_connector(http)
        }
        let mut http = HttpConnector::new();
        configure(&mut http, timeout);
        let mut filtered = HttpConnector::new_with_resolver(PublicResolver);
        configure(&mut filtered, timeout);
        let client = Client::builder(TokioExecutor::new())
            .pool_idle_timeout(IDLE_TIMEOUT)
            .build(tls(http));
        let public = Client::builder(TokioExecutor::new())
            .pool_idle_timeout(IDLE_TIMEOUT)
            .build(tls(PublicOnly(filtered)));
        ConnectionPool {
            client,
            public,
            timeout,
        }
    }

    /// The timeout this pool was built with. A request asking for another connection
    /// timeout is sent on a connection of its own.
    pub fn timeout(&self) -> Duration {
        self.timeout
    }

    /// Sends `request` on a pooled connection (or a new one). The answer's head must come
    /// within `first_byte` of asking, a new connection's set-up included (it is also bound
    /// by the connection timeout); each later piece of the body within `between_bytes` of
    /// the one before. Counting set-up in `first_byte` keeps a hanging provider's cost to
    /// `first_byte` per call, as without a pool: a tick that meets several pays for each.
    ///
    /// With `public_only`, the connection is made to public addresses only (above).
    pub async fn send(
        &self,
        request: http::Request<WasiBody>,
        first_byte: Duration,
        between_bytes: Duration,
        public_only: bool,
    ) -> Result<http::Response<WasiBody>, Error> {
        let asked = if public_only {
            self.public.request(request)
        } else {
            self.client.request(request)
        };
        let answer = tokio::time::timeout(first_byte, asked)
            .await
            .map_err(|_| Error::ConnectionReadTimeout)?
            .map_err(error_code)?;
        // Tokio's interval panics on zero.
        let between_bytes = between_bytes.max(Duration::from_nanos(1));
        Ok(answer.map(|incoming| {
            let mut timer = tokio::time::interval(between_bytes);
            timer.reset();
            BetweenBytes { incoming, timer }.boxed_unsync()
        }))
    }
}

/// A connection refused because it would reach a non-public address.
#[derive(Debug)]
struct NotPublic;

impl std::fmt::Display for NotPublic {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("the host resolves to no public address")
    }
}

impl std::error::Error for NotPublic {}

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// Resolves names with the system's resolver, as hyper-util's own does, and keeps only
/// public addresses (`callback_target::is_public_ip`).
#[derive(Clone)]
struct PublicResolver;

impl tower_service::Service<Name> for PublicResolver {
    type Response = std::vec::IntoIter<SocketAddr>;
    type Error = BoxError;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, BoxError>> + Send>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), BoxError>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, name: Name) -> Self::Future {
        Box::pin(async move {
            let resolved = tokio::net::lookup_host((name.as_str(), 0)).await?;
            let public: Vec<SocketAddr> = resolved.filter(|a| is_public_ip(a.ip())).collect();
            if public.is_empty() {
                return Err(NotPublic.into());
            }
            Ok(public.into_iter())
        })
    }
}

/// hyper-util's connector over [`PublicResolver`], with IP literals (which it connects to
/// without resolving) checked first.
#[derive(Clone)]
struct PublicOnly(HttpConnector<PublicResolver>);

impl tower_service::Service<Uri> for PublicOnly {
    type Response = TokioIo<TcpStream>;
    type Error = BoxError;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, BoxError>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), BoxError>> {
        self.0.poll_ready(cx).map_err(Into::into)
    }

    fn call(&mut self, uri: Uri) -> Self::Future {
        // The literal forms hyper-util reads itself (`SocketAddrs::try_parse`); anything
        // else, numeric spellings included, goes through the resolver.
        let literal = uri
            .host()
            .map(|h| h.trim_start_matches('[').trim_end_matches(']'))
            .and_then(|h| h.parse::<IpAddr>().ok());
        if literal.is_some_and(|ip| !is_public_ip(ip)) {
            return Box::pin(async { Err(NotPublic.into()) });
        }
        let connecting = self.0.call(uri);
        Box::pin(async move { connecting.await.map_err(Into::into) })
    }
}

/// Maps the pooled client's error to what wasi-http tells the component.
fn error_code(e: hyper_util::client::legacy::Error) -> Error {
    let mut source = std::error::Error::source(&e);
    while let Some(cause) = source {
        if cause.downcast_ref::<NotPublic>().is_some() {
            return Error::HttpRequestDenied;
        }
        source = cause.source();
    }
    let mut source = std::error::Error::source(&e);
    while let Some(cause) = source {
        if let Some(io) = cause.downcast_ref::<std::io::Error>() {
            if io.kind() == std::io::ErrorKind::TimedOut {
                return Error::ConnectionTimeout;
            }
            if e.is_connect() {
                return Error::Connect(std::io::Error::new(io.kind(), io.to_string()));
            }
        }
        source = cause.source();
    }
    if e.is_connect() {
        // hyper-util's own connect timeout says so only in its message.
        return if e.to_string().contains("timed out") || format!("{e:?}").contains("timed out") {
            Error::ConnectionTimeout
        } else {
            Error::ConnectionRefused
        };
    }
    Error::ConnectionTerminated
}

/// The answer's body, failed when it stalls for longer than the between-bytes timeout.
struct BetweenBytes {
    incoming: hyper::body::Incoming,
    timer: tokio::time::Interval,
}

impl http_body::Body for BetweenBytes {
    type Data = Bytes;
    type Error = Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<http_body::Frame<Bytes>, Error>>> {
        match Pin::new(&mut self.incoming).poll_frame(cx) {
            Poll::Ready(Some(Ok(frame))) => {
                self.timer.reset();
                Poll::Ready(Some(Ok(frame)))
            }
            Poll::Ready(Some(Err(e))) => Poll::Ready(Some(Err(Error::from(e)))),
            Poll::Ready(None) => Poll::Ready(None),
            Poll::Pending => {
                ready!(self.timer.poll_tick(cx));
                Poll::Ready(Some(Err(Error::ConnectionReadTimeout)))
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        self.incoming.is_end_stream()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.incoming.size_hint()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http_body_util::Full;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    /// A tiny HTTP/1.1 server that answers every request `200 ok` with keep-alive and
    /// counts the connections it accepted.
    async fn counting_server() -> (std::net::SocketAddr, Arc<AtomicUsize>) {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        let connections = Arc::new(AtomicUsize::new(0));
        let counter = connections.clone();
        tokio::spawn(async move {
            loop {
                let (mut stream, _) = listener.accept().await.unwrap();
                counter.fetch_add(1, Ordering::SeqCst);
                tokio::spawn(async move {
                    let mut buffer = Vec::new();
                    let mut chunk = [0u8; 4096];
                    loop {
                        let Ok(n) = stream.read(&mut chunk).await else {
                            return;
                        };
                        if n == 0 {
                            return;
                        }
                        buffer.extend_from_slice(&chunk[..n]);
                        // Requests here carry no body: one answer per header block.
                        while let Some(end) = buffer.windows(4).position(|w| w == b"\r\n\r\n") {
                            buffer.drain(..end + 4);
                            let answer = b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok";
                            if stream.write_all(answer).await.is_err() {
                                return;
                            }
                        }
                    }
                });
            }
        });
        (address, connections)
    }

    fn get(address: std::net::SocketAddr) -> http::Request<WasiBody> {
        http::Request::get(format!("http://{address}/send"))
            .body(
                Full::new(Bytes::new())
                    .map_err(|never| match never {})
                    .boxed_unsync(),
            )
            .unwrap()
    }

    #[tokio::test]
    async fn requests_one_after_another_share_one_connection() {
        let (address, connections) = counting_server().await;
        let pool = ConnectionPool::new(Duration::from_secs(5));
        for _ in 0..5 {
            let answer = pool
                .send(
                    get(address),
                    Duration::from_secs(5),
                    Duration::from_secs(5),
                    false,
                )
                .await
                .unwrap();
            assert_eq!(answer.status(), 200);
            let body = answer.into_body().collect().await.unwrap().to_bytes();
            assert_eq!(&body[..], b"ok");
        }
        assert_eq!(connections.load(Ordering::SeqCst), 1);
    }

    #[tokio::test]
    async fn public_only_connections_never_reach_this_machine_in_any_spelling() {
        let (address, connections) = counting_server().await;
        let port = address.port();
        let pool = ConnectionPool::new(Duration::from_secs(5));
        for host in [
            "127.0.0.1".to_string(),
            "localhost".into(),
            "LOCALHOST".into(),
            "2130706433".into(),
            "0x7f000001".into(),
            "0177.0.0.1".into(),
            "127.1".into(),
            "[::ffff:127.0.0.1]".into(),
            "[::1]".into(),
            "0.0.0.0".into(),
            "[::]".into(),
        ] {
            let request = http::Request::get(format!("http://{host}:{port}/send"))
                .body(
                    Full::new(Bytes::new())
                        .map_err(|never| match never {})
                        .boxed_unsync(),
                )
                .unwrap();
            let error = pool
                .send(
                    request,
                    Duration::from_secs(5),
                    Duration::from_secs(5),
                    true,
                )
                .await
                .unwrap_err();
            assert!(
                matches!(error, Error::HttpRequestDenied),
                "{host}: {error:?}"
            );
        }
        assert_eq!(
            connections.load(Ordering::SeqCst),
            0,
            "no connection was made"
        );
        // The same pool still reaches a host a pattern names.
        let answer = pool
            .send(
                get(address),
                Duration::from_secs(5),
                Duration::from_secs(5),
                false,
            )
            .await
            .unwrap();
        assert_eq!(answer.status(), 200);
    }

    #[tokio::test]
    async fn a_refused_connection_is_a_connect_error() {
        let unused = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let address = unused.local_addr().unwrap();
        drop(unused);
        let pool = ConnectionPool::new(Duration::from_secs(5));
        let error = pool
            .send(
                get(address),
                Duration::from_secs(5),
                Duration::from_secs(5),
                false,
            )
            .await
            .unwrap_err();
        assert!(
            matches!(&error, Error::Connect(io) if io.kind() == std::io::ErrorKind::ConnectionRefused),
            "{error:?}"
        );
    }

    #[tokio::test]
    async fn an_answer_that_never_comes_times_out() {
        // Accepts and reads, never answers.
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        tokio::spawn(async move {
            let (mut stream, _) = listener.accept().await.unwrap();
            let mut sink = [0u8; 1024];
            while stream.read(&mut sink).await.is_ok_and(|n| n > 0) {}
        });
        let pool = ConnectionPool::new(Duration::from_millis(200));
        let started = std::time::Instant::now();
        let error = pool
            .send(
                get(address),
                Duration::from_millis(300),
                Duration::from_secs(5),
                false,
            )
            .await
            .unwrap_err();
        assert!(matches!(error, Error::ConnectionReadTimeout), "{error:?}");
        assert!(started.elapsed() < Duration::from_secs(2));
    }
}

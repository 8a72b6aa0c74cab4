//! The public HTTP server: hyper on tokio, one task per connection, routing by the
//! manifest, body size limits, one structured log line per request, graceful shutdown.
//!
//! What a slow or idle client can hold is bounded at each step: its connection (capped in
//! total and per client address, `connections.rs`), the wait for its request head (hyper's
//! header-read timeout, which also closes idle kept-alive connections), the wait for its
//! body (read whole under a deadline before any turn, `request_body.rs`), and only then a
//! turn of its lane (`admission.rs`) and an instance.

use crate::access_log::log_request;
use crate::admission::{Lane, Lanes, Split};
use crate::app::App;
use crate::connections::{self, Gate, Refusal};
use crate::request_body::{Unread, read_whole};
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use wasmtime_wasi_http::WasiBody;

pub struct ServerSettings {
    /// Largest request body accepted; larger ones get 413 before any component runs.
    pub max_body_bytes: usize,
    /// How long shutdown waits for requests in flight.
    pub drain_timeout: Duration,
    /// Public requests served at once, counted until their answer is sent; more wait their
    /// turn. Instances come from a pool of fixed size: a burst beyond it would fail
    /// requests with 500 instead of queueing them. Split into lanes (`admission.rs`).
    pub max_concurrent_requests: usize,
    /// The longest wait for a request head, from the connection's start or the end of
    /// its previous answer: a connection that sends none in time is closed.
    pub header_read_timeout: Duration,
    /// The longest wait for a whole request body, once its head is in: 408 after it.
    pub body_read_timeout: Duration,
    /// Open connections, in total and per client address.
    pub connections: connections::Limits,
}

/// The header in which Spin tells a component its client's address (`ip:port`).
const CLIENT_ADDR_HEADER: &str = "spin-client-addr";

fn json_error(status: u16, code: &str, message: &str) -> http::Response<WasiBody> {
    http::Response::builder()
        .status(status)
        .header("content-type", "application/json")
        .body(full(error_body(code, message)))
        .expect("static response parts are valid")
}

fn error_body(code: &str, message: &str) -> Bytes {
    Bytes::from(serde_json::json!({ "error": { "code": code, "message": message } }).to_string())
}

fn full(bytes: Bytes) -> WasiBody {
    Full::new(bytes)
        .map_err(|never| match never {})
        .boxed_unsync()
}

/// The answer to a body that was not read; the connection is closed after it, since the
/// rest of the body may still be on its way.
fn unread_body(unread: Unread, settings: &ServerSettings) -> http::Response<WasiBody> {
    let mut response = match unread {
        Unread::TooLarge => json_error(
            413,
            "payload_too_large",
            &format!("the body exceeds {} bytes", settings.max_body_bytes),
        ),
        Unread::TooSlow => json_error(
            408,
            "request_timeout",
            &format!(
                "the body did not arrive within {} s",
                settings.body_read_timeout.as_secs_f64()
            ),
        ),
        Unread::Broken => json_error(400, "bad_request", "the body could not be read"),
    };
    response.headers_mut().insert(
        http::header::CONNECTION,
        http::HeaderValue::from_static("close"),
    );
    response
}

async fn serve_one(
    app: Arc<App>,
    settings: Arc<ServerSettings>,
    lanes: Arc<Lanes>,
    peer: SocketAddr,
    mut req: http::Request<Incoming>,
) -> http::Response<WasiBody> {
    let started = Instant::now();
    // As Spin does (trigger-http's headers.rs): the client's address, replacing whatever
    // the client sent under that name, so components may trust it.
    req.headers_mut().insert(
        CLIENT_ADDR_HEADER,
        http::HeaderValue::from_str(&peer.to_string()).expect("a socket address is ASCII"),
    );
    let method = req.method().clone();
    let path = req.uri().path().to_string();
    let Some(component) = app.router.route(&path).map(str::to_string) else {
        let response = json_error(404, "not_found", "no such route");
        log_request(&method, &path, None, response.status().as_u16(), started);
        return response;
    };
    let declared = req
        .headers()
        .get(http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok());
    let response = if declared.is_some_and(|n| n > settings.max_body_bytes) {
        unread_body(Unread::TooLarge, &settings)
    } else {
        let (head, body) = req.into_parts();
        match read_whole(body, settings.max_body_bytes, settings.body_read_timeout).await {
            Err(unread) => unread_body(unread, &settings),
            Ok(body) => {
                let req = http::Request::from_parts(head, full(body));
                // A turn is held until the answer has been sent (`App::call_component`).
                let turn = lanes.turn(Lane::of(&path)).await;
                match app.call_component(&component, req, Some(turn)).await {
                    Ok(response) => response,
                    Err(e) => {
                        tracing::error!(component = %component, error = %format!("{e:#}"), "component failed");
                        json_error(500, "internal", "the request could not be completed")
                    }
                }
            }
        }
    };
    log_request(
        &method,
        &path,
        Some(&component),
        response.status().as_u16(),
        started,
    );
    response
}

/// Answers a connection past a cap with 503 and closes it, without reading a request:
/// the client learns to come back later instead of seeing a reset.
async fn refuse_connection(mut stream: TcpStream, refusal: Refusal) {
    let message = match refusal {
        Refusal::Total => "the gateway has too many open connections; try again shortly",
        Refusal::PerClient => {
            "this client address has too many open connections; reuse or close some"
        }
    };
    let body = error_body("too_many_connections", message);
    let head = format!(
        "HTTP/1.1 503 Service Unavailable\r\ncontent-type: application/json\r\n\
         retry-after: 1\r\nconnection: close\r\ncontent-length: {}\r\n\r\n",
        body.len()
    );
    let answer = async {
        stream.write_all(head.as_bytes()).await?;
        stream.write_all(&body).await?;
        stream.shutdown().await?;
        // Reading what the client already sent before closing avoids a reset that could
        // reach the client before the answer does.
        let mut sink = [0u8; 4096];
        while stream.read(&mut sink).await? > 0 {}
        Ok::<_, std::io::Error>(())
    };
    let _ = tokio::time::timeout(Duration::from_secs(1), answer).await;
}

/// Serves until `shutdown` resolves, then stops accepting and drains.
pub async fn serve(
    app: Arc<App>,
    listener: TcpListener,
    settings: ServerSettings,
    shutdown: impl Future<Output = ()>,
) -> anyhow::Result<()> {
    let lanes = Arc::new(Lanes::new(Split::of(settings.max_concurrent_requests)));
    let gate = Gate::new(settings.connections);
    let settings = Arc::new(settings);
    let graceful = GracefulShutdown::new();
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                let (stream, peer): (_, SocketAddr) = match accepted {
                    Ok(conn) => conn,
                    Err(e) => {
                        // Out of file descriptors, most likely: accepting again at once
                        // would spin on the same error.
                        tracing::warn!(error = %e, "accept failed");
                        tokio::time::sleep(Duration::from_millis(100)).await;
                        continue;
                    }
                };
                let admitted = match gate.admit(peer.ip()) {
                    Ok(admitted) => admitted,
                    Err(refusal) => {
                        tracing::warn!(?refusal, "connection refused: too many open");
                        tokio::spawn(refuse_connection(stream, refusal));
                        continue;
                    }
                };
                let _ = stream.set_nodelay(true);
                let app = app.clone();
                let settings = settings.clone();
                let lanes = lanes.clone();
                let header_read_timeout = settings.header_read_timeout;
                let service = service_fn(move |req| {
                    let app = app.clone();
                    let settings = settings.clone();
                    let lanes = lanes.clone();
                    async move { Ok::<_, std::convert::Infallible>(serve_one(app, settings, lanes, peer, req).await) }
                });
                let conn = http1::Builder::new()
                    .timer(TokioTimer::new())
                    .header_read_timeout(header_read_timeout)
                    .serve_connection(TokioIo::new(stream), service);
                let conn = graceful.watch(conn);
                tokio::spawn(async move {
                    if let Err(e) = conn.await {
                        tracing::debug!(error = %e, "connection ended with an error");
                    }
                    drop(admitted);
                });
            }
            () = &mut shutdown => break,
        }
    }
    drop(listener);
    tracing::info!("shutting down: draining requests in flight");
    tokio::select! {
        () = graceful.shutdown() => tracing::info!("all requests finished"),
        () = tokio::time::sleep(settings.drain_timeout) => tracing::warn!("drain timeout reached; closing remaining connections"),
    }
    Ok(())
}

//! The public HTTP server: hyper on tokio, one task per connection, routing by the
//! manifest, body size limits, one structured log line per request, graceful shutdown.

use crate::access_log::log_request;
use crate::app::App;
use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use hyper_util::server::graceful::GracefulShutdown;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use wasmtime_wasi_http::WasiBody;

pub struct ServerSettings {
    /// Largest request body accepted; larger ones get 413 before any component runs.
    pub max_body_bytes: usize,
    /// How long shutdown waits for requests in flight.
    pub drain_timeout: Duration,
    /// Public requests served at once, counted until their instance ends; more wait their
    /// turn. Each takes fresh instances (the component's, then the cells it hands work
    /// to) from a pool of fixed size: a burst beyond the pool would fail requests with 500
    /// instead of queueing them.
    pub max_concurrent_requests: usize,
}

/// The header in which Spin tells a component its client's address (`ip:port`).
const CLIENT_ADDR_HEADER: &str = "spin-client-addr";

fn json_error(status: u16, code: &str, message: &str) -> http::Response<WasiBody> {
    let body = serde_json::json!({ "error": { "code": code, "message": message } }).to_string();
    http::Response::builder()
        .status(status)
        .header("content-type", "application/json")
        .body(
            Full::new(Bytes::from(body))
                .map_err(|never| match never {})
                .boxed_unsync(),
        )
        .expect("static response parts are valid")
}

async fn serve_one(
    app: Arc<App>,
    settings: Arc<ServerSettings>,
    turns: Arc<Semaphore>,
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
        json_error(
            413,
            "payload_too_large",
            &format!("the body exceeds {} bytes", settings.max_body_bytes),
        )
    } else {
        // Chunked bodies are cut off at the limit too: the component sees a read error.
        let req = req.map(|body| {
            Limited::new(body, settings.max_body_bytes)
                .map_err(|_| wasmtime_wasi_http::Error::HttpRequestBodySize(None))
                .boxed_unsync()
        });
        // A turn is held until the instance ends, past its answer: an accepted message's
        // hand-over to its cell happens after the 202. Never closed, so never an error.
        let turn = turns
            .acquire_owned()
            .await
            .expect("the request gate stays open");
        match app.call_component(&component, req, Some(turn)).await {
            Ok(response) => response,
            Err(e) => {
                tracing::error!(component = %component, error = %format!("{e:#}"), "component failed");
                json_error(500, "internal", "the request could not be completed")
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

/// Serves until `shutdown` resolves, then stops accepting and drains.
pub async fn serve(
    app: Arc<App>,
    listener: TcpListener,
    settings: ServerSettings,
    shutdown: impl Future<Output = ()>,
) -> anyhow::Result<()> {
    let turns = Arc::new(Semaphore::new(settings.max_concurrent_requests.max(1)));
    let settings = Arc::new(settings);
    let graceful = GracefulShutdown::new();
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                let (stream, peer): (_, SocketAddr) = match accepted {
                    Ok(conn) => conn,
                    Err(e) => {
                        tracing::warn!(error = %e, "accept failed");
                        continue;
                    }
                };
                let _ = stream.set_nodelay(true);
                let app = app.clone();
                let settings = settings.clone();
                let turns = turns.clone();
                let service = service_fn(move |req| {
                    let app = app.clone();
                    let settings = settings.clone();
                    let turns = turns.clone();
                    async move { Ok::<_, std::convert::Infallible>(serve_one(app, settings, turns, peer, req).await) }
                });
                let conn = http1::Builder::new().serve_connection(TokioIo::new(stream), service);
                let conn = graceful.watch(conn);
                tokio::spawn(async move {
                    if let Err(e) = conn.await {
                        tracing::debug!(error = %e, "connection ended with an error");
                    }
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

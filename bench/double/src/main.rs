//! HTTP/1.1 doubles for the benchmarks, compiled so that the harness costs little and the
//! same for every gateway measured:
//!
//! - `--role africastalking`: Africa's Talking's SMS send API
//!   (`POST /version1/messaging`, a form with `to=+254...,+254...`). Every number is
//!   accepted, with `ATXid_<number>` as its message id; each counts.
//! - `--role receiver`: anything gets 200 `{}`. Counts delivered reports: Kannel's
//!   delivery report (`type=1` in the query) or a gateway's callback whose body says
//!   `"delivered"`.
//!
//! Both answer `GET /count` with `{"count": n, "last_ms": t}`: what they counted so far
//! and when the last one came (milliseconds since the double started). It prints
//! `listening on <port>` once it listens.

use anyhow::Result;
use bytes::Bytes;
use clap::{Parser, ValueEnum};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;
use tokio::net::TcpListener;

#[derive(Parser)]
struct Args {
    #[arg(long, value_enum)]
    role: Role,
    /// Loopback port to listen on (0: any free one).
    #[arg(long, default_value_t = 0)]
    port: u16,
}

#[derive(Clone, Copy, ValueEnum)]
enum Role {
    Africastalking,
    Receiver,
}

/// What a double counted, shared by its connections.
struct Tally {
    started: Instant,
    count: AtomicU64,
    last_ms: AtomicU64,
}

impl Tally {
    fn add(&self, n: u64) {
        if n == 0 {
            return;
        }
        self.count.fetch_add(n, Ordering::Relaxed);
        let now = self.started.elapsed().as_millis() as u64;
        self.last_ms.fetch_max(now, Ordering::Relaxed);
    }

    fn json(&self) -> String {
        serde_json::json!({
            "count": self.count.load(Ordering::Relaxed),
            "last_ms": self.last_ms.load(Ordering::Relaxed),
        })
        .to_string()
    }
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<()> {
    let args = Args::parse();
    let listener = TcpListener::bind(("127.0.0.1", args.port)).await?;
    println!("listening on {}", listener.local_addr()?.port());
    let tally = Arc::new(Tally {
        started: Instant::now(),
        count: AtomicU64::new(0),
        last_ms: AtomicU64::new(0),
    });
    loop {
        let (stream, _) = listener.accept().await?;
        let tally = tally.clone();
        let role = args.role;
        tokio::spawn(async move {
            let service = hyper::service::service_fn(move |req| {
                let tally = tally.clone();
                async move { answer(role, &tally, req).await }
            });
            // A peer that goes away mid-request (a killed runtime) ends its connection only.
            let _ = http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
    }
}

async fn answer(
    role: Role,
    tally: &Tally,
    req: Request<Incoming>,
) -> Result<Response<Full<Bytes>>, hyper::Error> {
    if req.uri().path() == "/count" {
        return Ok(json(200, tally.json()));
    }
    let query = req.uri().query().unwrap_or_default().to_string();
    let body = req.into_body().collect().await?.to_bytes();
    Ok(match role {
        Role::Africastalking => {
            let numbers = numbers(&body);
            tally.add(numbers.len() as u64);
            json(201, send_answer(&numbers))
        }
        Role::Receiver => {
            let delivered = query.split('&').any(|p| p == "type=1")
                || body.windows(11).any(|w| w == b"\"delivered\"");
            tally.add(u64::from(delivered));
            json(200, "{}".into())
        }
    })
}

/// The numbers of an Africa's Talking send request: its `to` field, comma-separated.
fn numbers(form: &[u8]) -> Vec<String> {
    form_urlencoded::parse(form)
        .find(|(name, _)| name == "to")
        .map(|(_, to)| {
            to.split(',')
                .filter(|n| !n.is_empty())
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default()
}

/// Africa's Talking's answer: one accepted `Recipients` entry per number.
fn send_answer(numbers: &[String]) -> String {
    let recipients: Vec<_> = numbers
        .iter()
        .map(|n| {
            serde_json::json!({
                "statusCode": 101,
                "number": n,
                "status": "Success",
                "cost": "KES 0.8000",
                "messageId": format!("ATXid_{}", n.trim_start_matches('+')),
            })
        })
        .collect();
    serde_json::json!({"SMSMessageData": {"Message": "ok", "Recipients": recipients}}).to_string()
}

fn json(status: u16, body: String) -> Response<Full<Bytes>> {
    Response::builder()
        .status(status)
        .header("content-type", "application/json")
        .body(Full::new(Bytes::from(body)))
        .expect("a valid response")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_number_of_a_send_request_is_accepted_under_its_own_id() {
        let numbers = numbers(b"username=bench&to=%2B254700000001%2C%2B254700000002&message=hi");
        assert_eq!(numbers, ["+254700000001", "+254700000002"]);
        let answer: serde_json::Value = serde_json::from_str(&send_answer(&numbers)).unwrap();
        let recipients = answer["SMSMessageData"]["Recipients"].as_array().unwrap();
        assert_eq!(recipients.len(), 2);
        assert_eq!(recipients[1]["messageId"], "ATXid_254700000002");
        assert_eq!(recipients[1]["statusCode"], 101);
    }

    #[test]
    fn a_request_without_numbers_counts_nothing() {
        assert!(numbers(b"username=bench&message=hi").is_empty());
        assert!(numbers(b"to=").is_empty());
    }
}

//! Sends exactly `--total` HTTP/1.1 requests over `--connections` keep-alive connections
//! and prints one JSON line: answers, refusals, errors, rate and latency percentiles.
//!
//! `{n}` in the URL or body becomes the request's number (`--first` + its index), so each
//! request can carry its own phone number and text. With `--item` and `--items K`, `{items}`
//! in the body becomes K copies of the item joined by commas, the `{n}` of copy `i` being
//! `--first` + index × K + i: a batch of K messages, each with its own number. A request that fails on the wire is
//! counted as an error and not retried: a retry could send a message twice.

use anyhow::{Context, Result, bail};
use bytes::Bytes;
use clap::Parser;
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http1;
use hyper_util::rt::TokioIo;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};
use tokio::net::TcpStream;

#[derive(Parser, Clone)]
struct Args {
    /// The request's URL; `{n}` is replaced by the request's number.
    #[arg(long)]
    url: String,
    #[arg(long, default_value = "GET")]
    method: String,
    /// A header, as `name: value`; may be given several times.
    #[arg(long = "header")]
    headers: Vec<String>,
    /// The request body; `{n}` is replaced by the request's number.
    #[arg(long, default_value = "")]
    body: String,
    /// How many requests in all.
    #[arg(long)]
    total: u64,
    #[arg(long, default_value_t = 64)]
    connections: usize,
    /// The number of the first request.
    #[arg(long, default_value_t = 0)]
    first: u64,
    /// A batch item, repeated `--items` times where the body says `{items}`; its `{n}` is
    /// the item's own number.
    #[arg(long, default_value = "")]
    item: String,
    /// Items per request.
    #[arg(long, default_value_t = 0)]
    items: u64,
    /// Threads driving the connections.
    #[arg(long, default_value_t = 1)]
    threads: usize,
}

/// What one connection saw.
#[derive(Default)]
struct Tally {
    latencies_us: Vec<u64>,
    non_2xx: u64,
    errors: u64,
}

fn main() -> Result<()> {
    let args = Args::parse();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(args.threads.max(1))
        .enable_all()
        .build()?;
    runtime.block_on(run(args))
}

async fn run(args: Args) -> Result<()> {
    let uri: http::Uri = args.url.replace("{n}", "0").parse().context("--url")?;
    let authority = uri
        .authority()
        .context("--url needs host:port")?
        .to_string();
    let headers = args
        .headers
        .iter()
        .map(|h| {
            let (name, value) = h.split_once(':').context("--header needs `name: value`")?;
            Ok((name.trim().to_string(), value.trim().to_string()))
        })
        .collect::<Result<Vec<_>>>()?;
    let next = Arc::new(AtomicU64::new(0));
    let started = Instant::now();
    let started_unix = SystemTime::now().duration_since(UNIX_EPOCH)?.as_secs_f64();
    let tasks: Vec<_> = (0..args.connections)
        .map(|_| {
            let (args, headers, next, authority) = (
                args.clone(),
                headers.clone(),
                next.clone(),
                authority.clone(),
            );
            tokio::spawn(async move { connection(&args, &headers, &authority, &next).await })
        })
        .collect();
    let mut all = Tally::default();
    for task in tasks {
        let tally = task.await??;
        all.latencies_us.extend(tally.latencies_us);
        all.non_2xx += tally.non_2xx;
        all.errors += tally.errors;
    }
    let seconds = started.elapsed().as_secs_f64();
    all.latencies_us.sort_unstable();
    let percentile = |p: f64| -> f64 {
        if all.latencies_us.is_empty() {
            return 0.0;
        }
        let at = ((all.latencies_us.len() as f64 * p).ceil() as usize).max(1) - 1;
        all.latencies_us[at.min(all.latencies_us.len() - 1)] as f64 / 1000.0
    };
    let answers = all.latencies_us.len() as u64;
    println!(
        "{}",
        serde_json::json!({
            "answers": answers,
            "non_2xx": all.non_2xx,
            "errors": all.errors,
            "seconds": seconds,
            "started_unix": started_unix,
            "per_s": answers as f64 / seconds,
            "p50_ms": percentile(0.50),
            "p99_ms": percentile(0.99),
            "max_ms": percentile(1.0),
        })
    );
    Ok(())
}

/// One keep-alive connection: takes request numbers until `total` are taken, reconnecting
/// when the server closes it.
async fn connection(
    args: &Args,
    headers: &[(String, String)],
    authority: &str,
    next: &AtomicU64,
) -> Result<Tally> {
    let mut tally = Tally::default();
    let mut sender: Option<http1::SendRequest<Full<Bytes>>> = None;
    loop {
        let index = next.fetch_add(1, Ordering::Relaxed);
        if index >= args.total {
            return Ok(tally);
        }
        let n = (args.first + index).to_string();
        let body = if args.items == 0 {
            args.body.replace("{n}", &n)
        } else {
            let items: Vec<String> = (0..args.items)
                .map(|i| {
                    let n = args.first + index * args.items + i;
                    args.item.replace("{n}", &n.to_string())
                })
                .collect();
            args.body.replace("{items}", &items.join(","))
        };
        if sender.as_ref().is_none_or(|s| s.is_closed()) {
            sender = Some(connect(authority).await?);
        }
        let mut request = http::Request::builder()
            .method(args.method.as_str())
            .uri(path_and_query(&args.url.replace("{n}", &n))?)
            .header(http::header::HOST, authority);
        for (name, value) in headers {
            request = request.header(name, value);
        }
        let request = request.body(Full::new(Bytes::from(body)))?;
        let sent = Instant::now();
        let result = async {
            let s = sender.as_mut().expect("connected above");
            s.ready().await?;
            let response = s.send_request(request).await?;
            let status = response.status();
            response.into_body().collect().await?;
            anyhow::Ok(status)
        }
        .await;
        match result {
            Ok(status) => {
                tally.latencies_us.push(sent.elapsed().as_micros() as u64);
                if !status.is_success() {
                    tally.non_2xx += 1;
                }
            }
            Err(_) => {
                tally.errors += 1;
                sender = None;
            }
        }
    }
}

async fn connect(authority: &str) -> Result<http1::SendRequest<Full<Bytes>>> {
    // A server under load may refuse a connection for a moment: try for about a second.
    let mut attempts = 0;
    let stream = loop {
        match TcpStream::connect(authority).await {
            Ok(stream) => break stream,
            Err(_) if attempts < 50 => {
                attempts += 1;
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            Err(e) => bail!("connecting to {authority}: {e}"),
        }
    };
    stream.set_nodelay(true)?;
    let (sender, conn) = http1::handshake(TokioIo::new(stream)).await?;
    tokio::spawn(conn);
    Ok(sender)
}

fn path_and_query(url: &str) -> Result<String> {
    let uri: http::Uri = url.parse().context("request URL")?;
    Ok(uri
        .path_and_query()
        .map(|p| p.as_str().to_string())
        .unwrap_or_else(|| "/".into()))
}

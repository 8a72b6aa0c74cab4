//! Cost of serving a trivial request (webhook-inbound answering 404), sequentially, many
//! times: on a fresh instance each time (`--max-instance-reuse-count 1`), then on reused
//! instances (Spin's defaults).
//! Run with `cargo bench -p messaging-host --bench instance` after `cargo xtask build`.

use bytes::Bytes;
use http_body_util::{BodyExt, Empty};
use messaging_host::app::{App, Settings};
use messaging_host::reuse::{InstanceReuse, Range};
use std::time::{Duration, Instant};

const WARMUP: usize = 200;
const SAMPLES: usize = 5000;

fn main() -> anyhow::Result<()> {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()?;
    let fresh = InstanceReuse {
        max_reuse_count: Range::Value(1),
        ..InstanceReuse::default()
    };
    measure(&root, "fresh instance", fresh)?;
    measure(&root, "reused instance", InstanceReuse::default())
}

fn measure(root: &std::path::Path, label: &str, reuse: InstanceReuse) -> anyhow::Result<()> {
    let data = tempfile::tempdir()?;
    let settings = Settings {
        app_dir: root.to_path_buf(),
        data_dir: data.path().to_path_buf(),
        cache_dir: root.join("target/component-cache"),
        outbound_timeout: std::time::Duration::from_secs(20),
        runtime_config: Default::default(),
        reuse,
    };
    let env = |name: &str| match name {
        "SPIN_VARIABLE_API_KEYS" => {
            Some("b:b:0000000000000000000000000000000000000000000000000000000000000000".into())
        }
        "SPIN_VARIABLE_HASHING_KEY" | "SPIN_VARIABLE_RECEIPT_SECRET" => Some("bench".into()),
        _ => None,
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async {
        let app = App::load(&root.join("spin.toml"), settings, env).await?;
        let request = || {
            http::Request::builder()
                .uri("http://localhost/webhooks/nothing-here")
                .body(
                    Empty::<Bytes>::new()
                        .map_err(|never| match never {})
                        .boxed_unsync(),
                )
                .unwrap()
        };
        let mut samples = Vec::with_capacity(SAMPLES);
        for i in 0..WARMUP + SAMPLES {
            let started = Instant::now();
            let response = app
                .call_component("webhook-inbound", request(), None)
                .await?;
            assert_eq!(response.status(), 404);
            response.into_body().collect().await.ok();
            if i >= WARMUP {
                samples.push(started.elapsed());
            }
        }
        samples.sort();
        let mean: Duration = samples.iter().sum::<Duration>() / samples.len() as u32;
        let pct = |p: f64| samples[((samples.len() as f64 * p) as usize).min(samples.len() - 1)];
        println!(
            "{label} + trivial request ({SAMPLES} samples): mean {:?}, p50 {:?}, p99 {:?}",
            mean,
            pct(0.50),
            pct(0.99)
        );
        anyhow::Ok(())
    })
}

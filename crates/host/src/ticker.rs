//! The built-in timer: every interval, `POST /tick` to each private component (the
//! delivery cells), so retries and overdue hand-overs happen without an outside scheduler.
//! On Spin the same route is driven by a cron trigger or a scheduler of the platform.

use crate::app::App;
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use std::sync::Arc;
use std::time::Duration;

pub async fn run(app: Arc<App>, interval: Duration) {
    let mut timer = tokio::time::interval(interval);
    timer.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    timer.tick().await;
    loop {
        timer.tick().await;
        for component in &app.private_components {
            let request = http::Request::builder()
                .method("POST")
                .uri(format!("http://{component}.spin.internal/tick"))
                .body(
                    Full::new(Bytes::new())
                        .map_err(|never| match never {})
                        .boxed_unsync(),
                )
                .expect("static request parts are valid");
            if let Err(e) = app.call_component(component, request).await {
                tracing::warn!(component = %component, error = %format!("{e:#}"), "tick failed");
            }
        }
    }
}

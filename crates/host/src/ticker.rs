//! The built-in timer: every interval, `POST /tick` to each private component (the
//! delivery cells), so retries and overdue hand-overs happen without an outside scheduler.
//! On Spin the same route is driven by a cron trigger or a scheduler of the platform.

use crate::app::App;
use std::sync::Arc;
use std::time::Duration;

pub async fn run(app: Arc<App>, interval: Duration) {
    let mut timer = tokio::time::interval(interval);
    timer.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    timer.tick().await;
    loop {
        timer.tick().await;
        for component in &app.private_components {
            let request =
                App::empty_request("POST", &format!("http://{component}.spin.internal/tick"));
            if let Err(e) = app.call_component(component, request, None).await {
                tracing::warn!(component = %component, error = %format!("{e:#}"), "tick failed");
            }
        }
    }
}

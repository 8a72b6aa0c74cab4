//! `GET /health`: whether this deployment can serve. It answers 200 when the policy folder
//! is sound (policy-router's `check`), the limits in variables parse and the key-value
//! store opens, else 503 with the problems, each naming its file and line or variable. The project host asks it before listening and
//! refuses to start on a 503; on Kubernetes it is the readiness probe. It needs no
//! credentials and shows no caller's data: only the deployment's own configuration.

use crate::govstack_messaging::policy::policy;
use crate::respond::{HttpResponse, json};
use messaging_domain::{email_senders, govstack, quota, rate_limit};

/// A variable's parser, naming the entries it cannot read.
type InvalidEntries = fn(&str) -> Vec<&str>;

pub async fn check() -> HttpResponse {
    let mut problems = policy::check().await;
    let limits: [(&str, InvalidEntries); 3] = [
        ("caller_rate_limits", rate_limit::invalid_entries),
        ("daily_quotas", quota::invalid_entries),
        ("email_senders", email_senders::invalid_entries),
    ];
    for (variable, invalid_entries) in limits {
        let value = message_store::config::get(variable)
            .await
            .unwrap_or_default();
        for entry in invalid_entries(&value) {
            problems.push(format!(
                "variable {variable}: cannot read the entry {entry:?}"
            ));
        }
    }
    let max_recipients = message_store::config::get("email_max_recipients")
        .await
        .unwrap_or_default();
    if let Err(e) = govstack::max_email_recipients(&max_recipients) {
        problems.push(format!("variable email_max_recipients: {e}"));
    }
    if let Err(e) = crate::accept::open_store().await {
        problems.push(format!("the key-value store: {}", e.message));
    }
    if problems.is_empty() {
        return json(200, &serde_json::json!({"status": "ok"}));
    }
    for problem in &problems {
        eprintln!(
            "{}",
            serde_json::json!({"event": "health.problem", "detail": problem})
        );
    }
    json(
        503,
        &serde_json::json!({"status": "unavailable", "problems": problems}),
    )
}

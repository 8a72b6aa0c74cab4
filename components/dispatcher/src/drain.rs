//! `POST /drain`: the cell's single messages, a page at a time, by the one drain that
//! holds the cell's lease (`message_store::drain`). Ingress asks for a drain after
//! accepting, unless one is running; the tick asks too, for retries and lost asks.

use crate::deliver;
use message_store::drain;
use messaging_domain::MessageId;

/// Messages attempted together: read, marked as being sent, sent (one `send-batch`) and written (one
/// `set-many`) as one hand-over.
const PAGE: usize = 250;
/// How long one drain call goes on before it hands over to a fresh call, so no request
/// lives for ever under steady load.
const BUDGET_MS: u64 = 20_000;

/// The cell's private route for a drain.
fn uri(cell: &str) -> String {
    format!("http://{cell}.spin.internal/drain")
}

/// Drains the cell's due messages (after the current response: call it from a spawned
/// task), then asks for another drain if its budget ran out with work left.
pub async fn run(cell: String) {
    run_for(cell, BUDGET_MS).await;
}

/// [`run`] for at most `budget_ms`: the tick drains inline for a short while, so its
/// answer says what finding the due work cost, however much waits for later.
pub async fn run_for(cell: String, budget_ms: u64) {
    let report = drain::run(&cell, PAGE, budget_ms, |ids| {
        let cell = &cell;
        async move {
            let ids: Vec<MessageId> = ids.iter().filter_map(|id| MessageId::parse(id)).collect();
            deliver::attempt_all(cell, &ids).await;
        }
    })
    .await;
    match report {
        Ok(report) if report.more => drain::poke(&cell, uri(&cell)),
        Ok(_) => {}
        Err(e) => println!(
            "{}",
            serde_json::json!({"event": "drain.store_error", "cell": cell, "detail": e.to_string()})
        ),
    }
}

//! `/tick`: the cell's due broadcast batches. Its single messages are the drain's
//! (`drain.rs`): the tick drains for up to [`DRAIN_MS`] first, then leaves the rest to a
//! drain of its own.

use message_store as store;
use messaging_domain::broadcast::BatchRef;

/// How long a tick drains single messages before it hands the rest to a drain call (so
/// the host's ticker, which ticks one component after another, is not held up).
pub const DRAIN_MS: u64 = 1_000;

/// What a tick did.
#[derive(Debug, Default, serde::Serialize)]
pub struct TickReport {
    pub examined: usize,
    pub attempted: usize,
}

/// Sends the due broadcast batches of this cell.
pub async fn tick(cell: &str) -> TickReport {
    let mut report = TickReport::default();
    let (examined, due) = store::work::due_for_tick(
        &format!("batch/{cell}"),
        crate::batch::TICK_BATCHES,
        BatchRef::parse,
    )
    .await;
    report.examined += examined;
    for batch in due {
        crate::batch::send(cell, &batch.broadcast, batch.seq).await;
        report.attempted += 1;
    }
    report
}

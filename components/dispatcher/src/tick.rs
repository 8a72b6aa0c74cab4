//! `/tick`: the cell's due broadcast batches. Its single messages are the drain's
//! (`drain.rs`), which the tick starts too.

use message_store as store;
use messaging_domain::broadcast::BatchRef;

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

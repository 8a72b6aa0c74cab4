//! `/tick`: what is due in this cell, single messages first, then broadcast batches.

use message_store as store;
use messaging_domain::MessageId;
use messaging_domain::broadcast::BatchRef;

/// Messages handled per tick, so a tick stays one short-lived instance.
const TICK_BATCH: usize = 100;

/// What a tick did.
#[derive(Debug, Default, serde::Serialize)]
pub struct TickReport {
    pub examined: usize,
    pub attempted: usize,
}

/// Retries every pending message of this cell that is due, up to [`TICK_BATCH`], then
/// the due broadcast batches.
pub async fn tick(cell: &str) -> TickReport {
    let (examined, due) = store::work::due_for_tick(cell, TICK_BATCH, MessageId::parse).await;
    let mut report = TickReport {
        examined,
        attempted: 0,
    };
    for id in due {
        crate::deliver::attempt(cell, &id).await;
        report.attempted += 1;
    }
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

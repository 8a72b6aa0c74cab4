//! dispatcher: the driver of a delivery cell.
//!
//! A delivery cell is this component plugged with exactly one sender (spin.toml
//! `dependencies`). It is reachable only on private routes (`http://<cell>.spin.internal`):
//!
//! - `POST /drain`: answered at once; then the cell's due messages are attempted a page at
//!   a time by the one drain holding the cell's lease (`drain.rs`). Ingress asks for one
//!   after accepting messages unless one is running, and so do a failover into this cell
//!   and a missing receipt that starts a fallback here. Every attempt of a cell's single
//!   messages is its drain's.
//! - `POST /batch` `{"broadcast", "seq"}`: the broadcaster hands over one broadcast batch.
//! - `POST /tick`: the host timer (or Spin's cron trigger) asks it to retry what is due.
//!
//! It owns the message's life after acceptance: expiry, the call to the sender,
//! the outcome, retries with backoff, and erasing the address and content once they are no
//! longer needed.

spin_sdk::wit_bindgen::generate!({
    path: "../../wit",
    world: "dispatcher",
    runtime_path: "::spin_sdk::wit_bindgen::rt",
    generate_all,
});

mod attempt;
mod batch;
mod cell;
mod deliver;
mod drain;
mod finish;
mod prepare;
mod receipt_urls;
mod tick;

use message_store::private_route::{Response, json, no_such_route, read};
use spin_sdk::http::{Method, Request};
use spin_sdk::http_service;

/// This cell's id, or the 500 that says the deployment forgot to set it.
async fn own_cell() -> Result<String, Response> {
    cell::own_cell().await.ok_or_else(|| {
        json(
            500,
            serde_json::json!({"error": "the cell variable is not set"}),
        )
    })
}

#[http_service]
async fn handle(req: Request) -> Response {
    message_store::backend::configure().await;
    let path = req.uri().path().to_string();
    match (req.method().clone(), path.as_str()) {
        (Method::POST, "/drain") => {
            let cell = match own_cell().await {
                Ok(cell) => cell,
                Err(response) => return response,
            };
            spin_sdk::wasip3::spawn(drain::run(cell));
            json(202, serde_json::json!({ "draining": true }))
        }
        (Method::POST, "/batch") => {
            let request: batch::BatchRequest =
                match read(req, r#"{"broadcast": "brd_...", "seq": n}"#).await {
                    Ok(request) => request,
                    Err(response) => return response,
                };
            let cell = match own_cell().await {
                Ok(cell) => cell,
                Err(response) => return response,
            };
            let report = batch::send(&cell, &request.broadcast, request.seq).await;
            json(200, serde_json::to_value(&report).expect("json"))
        }
        (Method::POST, "/tick") => {
            let cell = match own_cell().await {
                Ok(cell) => cell,
                Err(response) => return response,
            };
            drain::run_for(cell.clone(), tick::DRAIN_MS).await;
            let report = tick::tick(&cell).await;
            json(200, serde_json::to_value(&report).expect("json"))
        }
        _ => no_such_route(),
    }
}

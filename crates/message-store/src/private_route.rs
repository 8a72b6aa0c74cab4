//! What every worker's private routes (`http://<component>.spin.internal/...`) share: a
//! JSON answer, and reading a JSON request body into its type.

use spin_sdk::http::body::IncomingBodyExt;
use spin_sdk::http::{FullBody, Request};

pub type Response = http::Response<FullBody<bytes::Bytes>>;

/// A JSON answer.
pub fn json(status: u16, body: serde_json::Value) -> Response {
    http::Response::builder()
        .status(status)
        .header("content-type", "application/json")
        .body(FullBody::new(body.to_string().into()))
        .expect("static response parts are valid")
}

/// The request's body as a `T`, or a 400 that says what was `expected`.
pub async fn read<T: serde::de::DeserializeOwned>(
    req: Request,
    expected: &str,
) -> Result<T, Response> {
    let body = req
        .into_body()
        .bytes()
        .await
        .map_err(|_| json(400, serde_json::json!({"error": "unreadable body"})))?;
    serde_json::from_slice(&body).map_err(|_| {
        json(
            400,
            serde_json::json!({ "error": format!("expected {expected}") }),
        )
    })
}

/// 404 for any other route.
pub fn no_such_route() -> Response {
    json(404, serde_json::json!({"error": "no such route"}))
}

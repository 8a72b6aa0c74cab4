//! Reading a JSON request body, the same way on every `/v1` route.

use messaging_domain::{ApiError, ErrorCode};
use spin_sdk::http::Request;
use spin_sdk::http::body::IncomingBodyExt;

/// The body of a JSON request: 415 for another content type, 413 when it cannot be read in
/// full. The body is read in full (the host caps it) before its size is judged, so that a
/// client still writing gets its 413 instead of a reset connection.
pub async fn json(req: Request) -> Result<bytes::Bytes, ApiError> {
    let content_type = req
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("application/json");
    if !content_type.starts_with("application/json") {
        return Err(ApiError::new(
            ErrorCode::UnsupportedMediaType,
            "send the body as application/json",
        ));
    }
    req.into_body().bytes().await.map_err(|_| {
        ApiError::new(
            ErrorCode::PayloadTooLarge,
            "the body could not be read in full; it may exceed the size limit",
        )
    })
}

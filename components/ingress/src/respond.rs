//! Building responses: JSON bodies and the one error shape.

use messaging_domain::ApiError;
use spin_sdk::http::FullBody;

pub type HttpResponse = http::Response<FullBody<bytes::Bytes>>;

pub fn json(status: u16, body: &impl serde::Serialize) -> HttpResponse {
    let bytes = serde_json::to_vec(body).expect("API shapes serialise");
    http::Response::builder()
        .status(status)
        .header("content-type", "application/json")
        .body(FullBody::new(bytes.into()))
        .expect("static response parts are valid")
}

/// A response whose body is already JSON text.
pub fn raw_json(status: u16, body: &'static str) -> HttpResponse {
    http::Response::builder()
        .status(status)
        .header("content-type", "application/json")
        .body(FullBody::new(bytes::Bytes::from_static(body.as_bytes())))
        .expect("static response parts are valid")
}

/// The response, or the error as the API's one error shape.
pub fn or_error(result: Result<HttpResponse, ApiError>) -> HttpResponse {
    result.unwrap_or_else(|e| error(&e))
}

pub fn error(e: &ApiError) -> HttpResponse {
    let mut response = http::Response::builder()
        .status(e.status())
        .header("content-type", "application/json");
    if let Some(seconds) = e.retry_after_s {
        response = response.header("retry-after", seconds);
    }
    response
        .body(FullBody::new(e.body().into()))
        .expect("static response parts are valid")
}

pub fn method_not_allowed(allow: &'static str) -> HttpResponse {
    let mut response = error(&ApiError::new(
        messaging_domain::ErrorCode::MethodNotAllowed,
        format!("use {allow} on this route"),
    ));
    response
        .headers_mut()
        .insert("allow", http::HeaderValue::from_static(allow));
    response
}

//! The start-up check. Before it listens, the host asks the app's health route (the
//! gateway's ingress answers `GET /health`: its policy files are sound, its store opens)
//! and refuses to start on anything but 200, with the app's answer in the error. So a
//! broken policy file stops a deployment at once instead of failing requests one by one.
//! An app whose routes do not cover the path is not checked.

use crate::app::App;
use anyhow::{Result, bail};
use http_body_util::BodyExt;

pub async fn check(app: &App, path: &str) -> Result<()> {
    let Some(component) = app.router.route(path) else {
        return Ok(());
    };
    let request = App::empty_request("GET", &format!("http://localhost{path}"));
    let response = app.call_component(component, request, None).await?;
    let status = response.status();
    if status == http::StatusCode::OK {
        return Ok(());
    }
    let body = response
        .into_body()
        .collect()
        .await
        .map(|b| String::from_utf8_lossy(&b.to_bytes()).into_owned())
        .unwrap_or_default();
    bail!("the app is not ready to serve: GET {path} answered {status}: {body}")
}

//! Refuses callback URLs (message `callback_url`, GovStack `callbackUri`) the gateway must
//! not call (`callback_target::check`): the app's own components (`*.spin.internal`) in
//! every spelling, always; loopback, private networks and internal names unless the
//! deployment allows them (`callback_private_networks = "true"`, for callers that live
//! beside the gateway on a private network). The notifier checks again at send time.

use messaging_domain::callback_target;

/// `Err(message)` when `url` may not be used as a callback.
pub async fn check(url: Option<&str>) -> Result<(), String> {
    let Some(url) = url else { return Ok(()) };
    let private_networks = message_store::config::get("callback_private_networks")
        .await
        .is_ok_and(|v| v == "true");
    callback_target::check(url, private_networks).map_err(|refusal| refusal.message().into())
}

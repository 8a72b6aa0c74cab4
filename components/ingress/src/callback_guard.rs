//! Refuses callback URLs that name an internal address (`callback_target::is_internal`),
//! unless the deployment allows it (`callback_private_networks = "true"`, for callers that
//! live beside the gateway on a private network).

use messaging_domain::callback_target::is_internal;

/// `Err(message)` when `url` may not be used as a callback.
pub async fn check(url: Option<&str>) -> Result<(), String> {
    let Some(url) = url else { return Ok(()) };
    if !is_internal(url) {
        return Ok(());
    }
    let allowed = spin_sdk::variables::get("callback_private_networks")
        .await
        .is_ok_and(|v| v == "true");
    if allowed {
        Ok(())
    } else {
        Err(
            "the callback URL names a private, loopback or link-local address; \
             the gateway does not call into its own network"
                .into(),
        )
    }
}

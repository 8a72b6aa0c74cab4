//! The deployment's variables (spin.toml `[variables]`), read once per instance.
//!
//! A variable is configuration: the runtime resolves it when the app starts, and it is the
//! same for every request an instance serves. Each read is an async call into the
//! runtime, and one message reads a dozen or more; so an instance keeps what it has read.
//! The privacy rule allows this: caches of deployment configuration, never request data
//! (ARCHITECTURE.md, "Invariants"). Only values are kept: a failed read is asked again.

use std::collections::BTreeMap;
use std::sync::Mutex;

/// Variables this instance has read, by name.
static VARIABLES: Mutex<BTreeMap<String, String>> = Mutex::new(BTreeMap::new());

/// The variable `name`, as `spin_sdk::variables::get` gives it.
pub async fn get(name: &str) -> Result<String, spin_sdk::variables::Error> {
    let lock = || VARIABLES.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(value) = lock().get(name) {
        return Ok(value.clone());
    }
    let value = spin_sdk::variables::get(name).await?;
    lock().insert(name.to_string(), value.clone());
    Ok(value)
}

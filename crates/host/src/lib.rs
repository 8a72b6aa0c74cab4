//! The project's own host for the gateway: serves `spin.toml` on wasmtime.
//!
//! See ARCHITECTURE.md, "crates/host", for what it implements and how it maps to Spin.

pub mod access_log;
pub mod admission;
pub mod app;
mod bindings;
pub mod compose;
pub mod connections;
pub mod health;
pub mod hooks;
pub mod kv;
pub mod logs;
pub mod manifest;
pub mod outbound;
pub mod outbound_pool;
pub mod request_body;
pub mod reuse;
pub mod routes;
pub mod runtime_config;
pub mod server;
pub mod spin;
pub mod state;
pub mod ticker;
pub mod variables;
pub mod wasi_keyvalue;

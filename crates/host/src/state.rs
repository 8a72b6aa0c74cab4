//! What one component instance's store holds: the instance's, shared by every request it
//! serves (an instance serves several, `reuse.rs`), so nothing in it belongs to one request.

use crate::kv::KvStore;
use crate::spin::PlatformGrants;
use std::sync::Arc;
use wasmtime::StoreLimits;
use wasmtime::component::ResourceTable;
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};
use wasmtime_wasi_http::{WasiHttpCtx, WasiHttpCtxView, WasiHttpView};

pub struct HostState {
    pub wasi: WasiCtx,
    pub table: ResourceTable,
    pub http: WasiHttpCtx,
    pub hooks: crate::hooks::OutboundHooks,
    pub kv: Arc<KvStore>,
    pub grants: PlatformGrants,
    pub limits: StoreLimits,
}

impl WasiView for HostState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}

impl WasiHttpView for HostState {
    fn http(&mut self) -> WasiHttpCtxView<'_> {
        WasiHttpCtxView {
            hooks: &mut self.hooks,
            table: &mut self.table,
            ctx: &mut self.http,
        }
    }
}

pub fn http_view(state: &mut HostState) -> WasiHttpCtxView<'_> {
    state.http()
}

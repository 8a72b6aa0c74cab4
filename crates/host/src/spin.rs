//! The Spin platform interfaces (`spin:key-value@3.0.0`, `spin:variables@3.0.0`) on top of
//! the host's SQLite store and resolved variables.

use crate::kv::KvStore;
use crate::state::HostState;
use std::collections::BTreeMap;
use std::sync::Arc;
use wasmtime::component::{Accessor, FutureReader, HasData, Resource, StreamReader};

use crate::bindings::spin::key_value::key_value::{self, Error as KvError};
use crate::bindings::spin::variables::variables::{self, Error as VarError};

/// An opened key-value store: the label the component asked for.
pub struct OpenStore {
    label: String,
}

/// What a component instance may use of the platform.
#[derive(Clone, Default)]
pub struct PlatformGrants {
    /// Key-value store labels from `key_value_stores`.
    pub stores: Arc<Vec<String>>,
    /// The component's variables, resolved.
    pub variables: Arc<BTreeMap<String, String>>,
}

pub fn add_to_linker(linker: &mut wasmtime::component::Linker<HostState>) -> wasmtime::Result<()> {
    key_value::add_to_linker::<HostState, Platform>(linker, |s| s)?;
    variables::add_to_linker::<HostState, Platform>(linker, |s| s)?;
    Ok(())
}

struct Platform;
impl HasData for Platform {
    type Data<'a> = &'a mut HostState;
}

fn store_error(e: anyhow::Error) -> KvError {
    tracing::error!(error = %e, "key-value store error");
    KvError::Other("storage error".into())
}

fn label(state: &HostState, store: &Resource<OpenStore>) -> wasmtime::Result<String> {
    Ok(state.table.get(store)?.label.clone())
}

/// Runs `f` on the instance's state (never across an await: the state is the instance's).
fn with_state<U, R>(accessor: &Accessor<U, Platform>, f: impl FnOnce(&mut HostState) -> R) -> R {
    accessor.with(|mut access| f(access.get()))
}

/// The stores and the label an opened store stands for, taken out of the instance's state
/// so the call can be awaited without holding it.
fn store_of<U>(
    accessor: &Accessor<U, Platform>,
    store: &Resource<OpenStore>,
) -> wasmtime::Result<(Arc<KvStore>, String)> {
    with_state(accessor, |state| {
        Ok((state.kv.clone(), label(state, store)?))
    })
}

impl key_value::Host for HostState {}

impl key_value::HostStore for HostState {
    fn drop(&mut self, store: Resource<OpenStore>) -> wasmtime::Result<()> {
        self.table.delete(store)?;
        Ok(())
    }
}

impl<U> key_value::HostStoreWithStore<U> for Platform {
    async fn open(
        accessor: &Accessor<U, Self>,
        label: String,
    ) -> wasmtime::Result<Result<Resource<OpenStore>, KvError>> {
        with_state(accessor, |state| {
            if !state.grants.stores.contains(&label) {
                return Ok(Err(KvError::AccessDenied));
            }
            Ok(Ok(state.table.push(OpenStore { label })?))
        })
    }

    async fn get(
        accessor: &Accessor<U, Self>,
        store: Resource<OpenStore>,
        key: String,
    ) -> wasmtime::Result<Result<Option<Vec<u8>>, KvError>> {
        let (kv, label) = store_of(accessor, &store)?;
        Ok(kv.get(&label, &key).await.map_err(store_error))
    }

    async fn set(
        accessor: &Accessor<U, Self>,
        store: Resource<OpenStore>,
        key: String,
        value: Vec<u8>,
    ) -> wasmtime::Result<Result<(), KvError>> {
        let (kv, label) = store_of(accessor, &store)?;
        Ok(kv.set(&label, &key, &value).await.map_err(store_error))
    }

    async fn delete(
        accessor: &Accessor<U, Self>,
        store: Resource<OpenStore>,
        key: String,
    ) -> wasmtime::Result<Result<(), KvError>> {
        let (kv, label) = store_of(accessor, &store)?;
        Ok(kv.delete(&label, &key).await.map_err(store_error))
    }

    async fn exists(
        accessor: &Accessor<U, Self>,
        store: Resource<OpenStore>,
        key: String,
    ) -> wasmtime::Result<Result<bool, KvError>> {
        let (kv, label) = store_of(accessor, &store)?;
        Ok(kv.exists(&label, &key).await.map_err(store_error))
    }

    async fn get_keys(
        accessor: &Accessor<U, Self>,
        store: Resource<OpenStore>,
    ) -> wasmtime::Result<(StreamReader<String>, FutureReader<Result<(), KvError>>)> {
        let (kv, label) = store_of(accessor, &store)?;
        let listed = kv.keys(&label).await;
        let (keys, result) = match listed {
            Ok(keys) => (keys, Ok(())),
            Err(e) => (Vec::new(), Err(store_error(e))),
        };
        accessor.with(|mut access| {
            let stream = StreamReader::new(&mut access, keys)?;
            let future =
                FutureReader::new(&mut access, async move { Ok::<_, wasmtime::Error>(result) })?;
            Ok((stream, future))
        })
    }
}

impl variables::Host for HostState {}

impl<U> variables::HostWithStore<U> for Platform {
    async fn get(
        accessor: &Accessor<U, Self>,
        name: String,
    ) -> wasmtime::Result<Result<String, VarError>> {
        Ok(with_state(accessor, |state| {
            match state.grants.variables.get(&name) {
                Some(value) => Ok(value.clone()),
                None => Err(VarError::Undefined(format!("no variable named {name}"))),
            }
        }))
    }
}

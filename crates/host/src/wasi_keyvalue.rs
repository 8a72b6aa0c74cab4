//! `wasi:keyvalue/store`, `wasi:keyvalue/atomics` and `wasi:keyvalue/batch` (0.2.0-draft2, the version Spin
//! implements) over the same SQLite store as `spin:key-value`. Components use the atomics
//! where two instances may race: idempotency keys and delivery claims.
//!
//! The host offers no more than Spin: `list-keys` refuses a cursor and `get-many` leaves out
//! missing keys, as Spin's stores do (`../shared/spin/README.md`), so a component that
//! passes here does not rely on more than Spin gives.

use crate::state::HostState;
use wasmtime::component::{HasData, Resource};

use crate::bindings::wasi::keyvalue::atomics::{self, CasError};
use crate::bindings::wasi::keyvalue::batch;
use crate::bindings::wasi::keyvalue::store::{self, Error, KeyResponse};

/// An opened bucket: the store label.
pub struct Bucket {
    label: String,
}

/// A compare-and-swap handle: the key and the value it was read with.
pub struct Cas {
    label: String,
    key: String,
    read: Option<Vec<u8>>,
}

/// `list-keys` as Spin's stores answer it, so the app cannot come to rely on more: a cursor
/// is refused ("list_keys: cursor not supported"); without one, every key of the store, in
/// no promised order, and no cursor.
fn list_as_spin_does(
    cursor: Option<String>,
    all: impl FnOnce() -> anyhow::Result<Vec<String>>,
) -> Result<KeyResponse, Error> {
    if cursor.is_some() {
        return Err(Error::Other("list_keys: cursor not supported".into()));
    }
    all()
        .map_err(other)
        .map(|keys| KeyResponse { keys, cursor: None })
}

/// `get-many`'s answer as Spin's SQLite store gives it: the keys that exist, with their
/// values; missing keys are left out.
fn present_only(keys: Vec<String>, values: Vec<Option<Vec<u8>>>) -> Vec<(String, Option<Vec<u8>>)> {
    keys.into_iter()
        .zip(values)
        .filter(|(_, value)| value.is_some())
        .collect()
}

pub fn add_to_linker(linker: &mut wasmtime::component::Linker<HostState>) -> wasmtime::Result<()> {
    store::add_to_linker::<HostState, Data>(linker, |s| s)?;
    atomics::add_to_linker::<HostState, Data>(linker, |s| s)?;
    batch::add_to_linker::<HostState, Data>(linker, |s| s)?;
    Ok(())
}

struct Data;
impl HasData for Data {
    type Data<'a> = &'a mut HostState;
}

fn other(e: anyhow::Error) -> Error {
    tracing::error!(error = %e, "key-value store error");
    Error::Other("storage error".into())
}

impl HostState {
    fn bucket_label(&self, bucket: &Resource<Bucket>) -> wasmtime::Result<String> {
        Ok(self.table.get(bucket)?.label.clone())
    }
}

impl store::Host for HostState {
    fn open(&mut self, identifier: String) -> wasmtime::Result<Result<Resource<Bucket>, Error>> {
        if !self.grants.stores.contains(&identifier) {
            return Ok(Err(Error::AccessDenied));
        }
        Ok(Ok(self.table.push(Bucket { label: identifier })?))
    }
}

impl store::HostBucket for HostState {
    async fn get(
        &mut self,
        bucket: Resource<Bucket>,
        key: String,
    ) -> wasmtime::Result<Result<Option<Vec<u8>>, Error>> {
        let label = self.bucket_label(&bucket)?;
        Ok(self.kv.get(&label, &key).await.map_err(other))
    }

    async fn set(
        &mut self,
        bucket: Resource<Bucket>,
        key: String,
        value: Vec<u8>,
    ) -> wasmtime::Result<Result<(), Error>> {
        let label = self.bucket_label(&bucket)?;
        Ok(self.kv.set(&label, &key, &value).await.map_err(other))
    }

    async fn delete(
        &mut self,
        bucket: Resource<Bucket>,
        key: String,
    ) -> wasmtime::Result<Result<(), Error>> {
        let label = self.bucket_label(&bucket)?;
        Ok(self.kv.delete(&label, &key).await.map_err(other))
    }

    async fn exists(
        &mut self,
        bucket: Resource<Bucket>,
        key: String,
    ) -> wasmtime::Result<Result<bool, Error>> {
        let label = self.bucket_label(&bucket)?;
        Ok(self.kv.exists(&label, &key).await.map_err(other))
    }

    async fn list_keys(
        &mut self,
        bucket: Resource<Bucket>,
        cursor: Option<String>,
    ) -> wasmtime::Result<Result<KeyResponse, Error>> {
        let label = self.bucket_label(&bucket)?;
        if cursor.is_some() {
            return Ok(list_as_spin_does(cursor, || Ok(Vec::new())));
        }
        let all = self.kv.keys_after(&label, None, usize::MAX).await;
        Ok(list_as_spin_does(None, || all))
    }

    fn drop(&mut self, bucket: Resource<Bucket>) -> wasmtime::Result<()> {
        self.table.delete(bucket)?;
        Ok(())
    }
}

impl atomics::Host for HostState {
    async fn increment(
        &mut self,
        bucket: Resource<Bucket>,
        key: String,
        delta: i64,
    ) -> wasmtime::Result<Result<i64, Error>> {
        let label = self.bucket_label(&bucket)?;
        Ok(self.kv.increment(&label, &key, delta).await.map_err(other))
    }

    async fn swap(
        &mut self,
        cas: Resource<Cas>,
        value: Vec<u8>,
    ) -> wasmtime::Result<Result<(), CasError>> {
        let Cas { label, key, read } = self.table.delete(cas)?;
        match self
            .kv
            .compare_and_swap(&label, &key, read.as_deref(), &value)
            .await
        {
            Ok(true) => Ok(Ok(())),
            Ok(false) => {
                // Hand back a fresh handle with the value that won, so the guest can retry.
                let current = match self.kv.get(&label, &key).await {
                    Ok(current) => current,
                    Err(e) => return Ok(Err(CasError::StoreError(other(e)))),
                };
                let fresh = self.table.push(Cas {
                    label,
                    key,
                    read: current,
                })?;
                Ok(Err(CasError::CasFailed(fresh)))
            }
            Err(e) => Ok(Err(CasError::StoreError(other(e)))),
        }
    }
}

impl atomics::HostCas for HostState {
    async fn new(
        &mut self,
        bucket: Resource<Bucket>,
        key: String,
    ) -> wasmtime::Result<Result<Resource<Cas>, Error>> {
        let label = self.bucket_label(&bucket)?;
        let read = match self.kv.get(&label, &key).await {
            Ok(read) => read,
            Err(e) => return Ok(Err(other(e))),
        };
        Ok(Ok(self.table.push(Cas { label, key, read })?))
    }

    fn current(&mut self, cas: Resource<Cas>) -> wasmtime::Result<Result<Option<Vec<u8>>, Error>> {
        Ok(Ok(self.table.get(&cas)?.read.clone()))
    }

    fn drop(&mut self, cas: Resource<Cas>) -> wasmtime::Result<()> {
        self.table.delete(cas)?;
        Ok(())
    }
}

impl batch::Host for HostState {
    async fn get_many(
        &mut self,
        bucket: Resource<Bucket>,
        keys: Vec<String>,
    ) -> wasmtime::Result<Result<Vec<(String, Option<Vec<u8>>)>, Error>> {
        let label = self.bucket_label(&bucket)?;
        Ok(self
            .kv
            .get_many(&label, &keys)
            .await
            .map_err(other)
            .map(|values| present_only(keys, values)))
    }

    async fn set_many(
        &mut self,
        bucket: Resource<Bucket>,
        key_values: Vec<(String, Vec<u8>)>,
    ) -> wasmtime::Result<Result<(), Error>> {
        let label = self.bucket_label(&bucket)?;
        Ok(self.kv.set_many(&label, &key_values).await.map_err(other))
    }

    async fn delete_many(
        &mut self,
        bucket: Resource<Bucket>,
        keys: Vec<String>,
    ) -> wasmtime::Result<Result<(), Error>> {
        let label = self.bucket_label(&bucket)?;
        Ok(self.kv.delete_many(&label, &keys).await.map_err(other))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn list_keys_refuses_a_cursor_and_lists_everything_without_one() {
        let refused = list_as_spin_does(Some("a".into()), || Ok(vec!["a".into()]));
        assert!(matches!(refused, Err(Error::Other(m)) if m.contains("cursor not supported")));
        let all = list_as_spin_does(None, || Ok(vec!["b".into(), "a".into()])).unwrap();
        assert_eq!(all.keys, ["b", "a"]);
        assert_eq!(all.cursor, None);
    }

    #[test]
    fn get_many_leaves_out_missing_keys() {
        let answer = present_only(
            vec!["a".into(), "b".into(), "c".into()],
            vec![Some(b"1".to_vec()), None, Some(b"3".to_vec())],
        );
        let keys: Vec<&str> = answer.iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(keys, ["a", "c"]);
    }
}

//! Host bindings for the Spin platform interfaces (`wit/host.wit`), generated once for
//! `spin.rs` and `wasi_keyvalue.rs`.

wasmtime::component::bindgen!({
    path: "wit",
    world: "spin-platform",
    // The wasi:keyvalue calls are blocking to the guest but async on the host: a call that
    // waits for its group's commit (kv/sqlite.rs) or for Redis frees the worker thread.
    imports: {
        "wasi:keyvalue/store.[method]bucket.get": async | trappable,
        "wasi:keyvalue/store.[method]bucket.set": async | trappable,
        "wasi:keyvalue/store.[method]bucket.delete": async | trappable,
        "wasi:keyvalue/store.[method]bucket.exists": async | trappable,
        "wasi:keyvalue/store.[method]bucket.list-keys": async | trappable,
        "wasi:keyvalue/atomics.increment": async | trappable,
        "wasi:keyvalue/atomics.swap": async | trappable,
        "wasi:keyvalue/atomics.[static]cas.new": async | trappable,
        "wasi:keyvalue/batch.get-many": async | trappable,
        "wasi:keyvalue/batch.set-many": async | trappable,
        "wasi:keyvalue/batch.delete-many": async | trappable,
        default: trappable,
    },
    with: {
        "spin:key-value/key-value.store": crate::spin::OpenStore,
        "wasi:keyvalue/store.bucket": crate::wasi_keyvalue::Bucket,
        "wasi:keyvalue/atomics.cas": crate::wasi_keyvalue::Cas,
    },
});

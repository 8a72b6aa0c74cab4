//! Host bindings for the Spin platform interfaces (`wit/host.wit`), generated once for
//! `spin.rs` and `wasi_keyvalue.rs`.

wasmtime::component::bindgen!({
    path: "wit",
    world: "spin-platform",
    imports: { default: trappable },
    with: {
        "spin:key-value/key-value.store": crate::spin::OpenStore,
        "wasi:keyvalue/store.bucket": crate::wasi_keyvalue::Bucket,
        "wasi:keyvalue/atomics.cas": crate::wasi_keyvalue::Cas,
    },
});

//! The instance's open `wasi:keyvalue` buckets, one per store label.
//!
//! Opening a bucket is a call into the runtime and a resource to drop afterwards, and a
//! message costs about twenty store calls: each opened its own bucket before. A bucket
//! names the deployment's store, the same for every request an instance serves (no
//! request data), and both runtimes keep the store behind it open for the instance's
//! life, so the instance keeps one per label.

use crate::StoreResult;
use spin_sdk::experimental::wasi::keyvalue::store as wkv;
use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;

thread_local! {
    /// A guest has one thread: this is the instance's.
    static OPEN_BUCKETS: RefCell<HashMap<String, Rc<wkv::Bucket>>> = RefCell::default();
}

/// The bucket of store `label`, opened on the instance's first use.
pub fn open(label: &str) -> StoreResult<Rc<wkv::Bucket>> {
    if let Some(bucket) = OPEN_BUCKETS.with_borrow(|open| open.get(label).cloned()) {
        return Ok(bucket);
    }
    let bucket = Rc::new(wkv::open(label)?);
    OPEN_BUCKETS.with_borrow_mut(|open| open.insert(label.to_string(), bucket.clone()));
    Ok(bucket)
}

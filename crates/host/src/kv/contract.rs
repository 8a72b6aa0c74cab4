//! The behaviour every backend owes the components (see `Backend`), checked the same way
//! for SQLite and Redis.

use super::Backend;
use std::sync::Arc;

/// Runs every check on `kv`, which must be empty. Labels keep stores apart. Call it on a
/// multi-threaded runtime: the racing callers run on several workers at once.
pub async fn check<B: Backend + 'static>(kv: Arc<B>) {
    stores_are_separate(kv.as_ref()).await;
    compare_and_swap_writes_only_over_the_expected_value(kv.as_ref()).await;
    increments(kv.as_ref()).await;
    pages_in_byte_order(kv.as_ref()).await;
    many_at_once(kv.as_ref()).await;
    racing_instances_never_both_win(kv).await;
}

async fn stores_are_separate(kv: &impl Backend) {
    kv.set("default", "a", b"1").await.unwrap();
    kv.set("default", "a", b"2").await.unwrap();
    kv.set("pending", "a", b"p").await.unwrap();
    kv.set("default", "b", b"3").await.unwrap();
    kv.delete("default", "b").await.unwrap();
    assert_eq!(kv.get("default", "a").await.unwrap(), Some(b"2".to_vec()));
    assert_eq!(kv.get("pending", "a").await.unwrap(), Some(b"p".to_vec()));
    assert_eq!(kv.get("default", "b").await.unwrap(), None);
    assert!(!kv.exists("default", "b").await.unwrap());
    assert!(kv.exists("pending", "a").await.unwrap());
    assert_eq!(kv.keys("default").await.unwrap(), vec!["a".to_string()]);
}

async fn compare_and_swap_writes_only_over_the_expected_value(kv: &impl Backend) {
    assert!(
        kv.compare_and_swap("cas", "k", None, b"first")
            .await
            .unwrap()
    );
    assert!(
        !kv.compare_and_swap("cas", "k", None, b"second")
            .await
            .unwrap(),
        "absent was expected"
    );
    assert!(
        !kv.compare_and_swap("cas", "k", Some(b"other"), b"second")
            .await
            .unwrap()
    );
    assert!(
        kv.compare_and_swap("cas", "k", Some(b"first"), b"second")
            .await
            .unwrap()
    );
    assert_eq!(kv.get("cas", "k").await.unwrap(), Some(b"second".to_vec()));
    assert_eq!(kv.keys("cas").await.unwrap(), vec!["k".to_string()]);
}

async fn increments(kv: &impl Backend) {
    assert_eq!(kv.increment("inc", "n", 5).await.unwrap(), 5);
    assert_eq!(kv.increment("inc", "n", -2).await.unwrap(), 3);
    assert_eq!(kv.get("inc", "n").await.unwrap(), Some(b"3".to_vec()));
    kv.set("inc", "x", b"not a number").await.unwrap();
    assert!(kv.increment("inc", "x", 1).await.is_err());
    assert_eq!(
        kv.get("inc", "x").await.unwrap(),
        Some(b"not a number".to_vec())
    );
    assert_eq!(
        kv.keys("inc").await.unwrap(),
        vec!["n".to_string(), "x".to_string()]
    );
}

async fn pages_in_byte_order(kv: &impl Backend) {
    // Inserted out of order; "a/2" < "a/10" is false in numbers, true in bytes.
    for key in ["b/1", "a/2", "a/10", "a/1", "c"] {
        kv.set("page", key, b"v").await.unwrap();
    }
    assert_eq!(
        kv.keys_after("page", None, 2).await.unwrap(),
        vec!["a/1".to_string(), "a/10".to_string()]
    );
    assert_eq!(
        kv.keys_after("page", Some("a/10"), 2).await.unwrap(),
        vec!["a/2".to_string(), "b/1".to_string()]
    );
    // A cursor that is not itself a key still starts after it.
    assert_eq!(
        kv.keys_after("page", Some("a/"), 1).await.unwrap(),
        vec!["a/1".to_string()]
    );
    assert!(
        kv.keys_after("page", Some("c"), 10)
            .await
            .unwrap()
            .is_empty()
    );
    kv.delete("page", "a/10").await.unwrap();
    assert_eq!(
        kv.keys_after("page", Some("a/1"), 1).await.unwrap(),
        vec!["a/2".to_string()],
        "a deleted key leaves the listing"
    );
}

async fn many_at_once(kv: &impl Backend) {
    let pairs: Vec<(String, Vec<u8>)> = (0..3).map(|i| (format!("k{i}"), vec![i as u8])).collect();
    kv.set_many("many", &pairs).await.unwrap();
    let keys = vec!["k0".to_string(), "nope".to_string(), "k2".to_string()];
    assert_eq!(
        kv.get_many("many", &keys).await.unwrap(),
        vec![Some(vec![0]), None, Some(vec![2])]
    );
    assert!(kv.get_many("many", &[]).await.unwrap().is_empty());
    kv.set_many("many", &[]).await.unwrap();
    kv.delete_many("many", &[]).await.unwrap();
    kv.delete_many("many", &keys).await.unwrap();
    assert_eq!(kv.keys("many").await.unwrap(), vec!["k1".to_string()]);
}

/// Eight callers on several workers claim the same 200 keys by compare-and-swap from
/// absent and count with `increment`: each key has exactly one winner, and the counter
/// loses no addition.
async fn racing_instances_never_both_win<B: Backend + 'static>(kv: Arc<B>) {
    let callers: Vec<_> = (0..8)
        .map(|t| {
            let kv = kv.clone();
            tokio::spawn(async move {
                let mut won = 0;
                for k in 0..200 {
                    let key = format!("claim/{k}");
                    if kv
                        .compare_and_swap("race", &key, None, format!("t{t}").as_bytes())
                        .await
                        .unwrap()
                    {
                        won += 1;
                    }
                    kv.increment("race", "count", 1).await.unwrap();
                }
                won
            })
        })
        .collect();
    let mut won = 0;
    for caller in callers {
        won += caller.await.unwrap();
    }
    assert_eq!(won, 200, "each claim has exactly one winner");
    assert_eq!(
        kv.get("race", "count").await.unwrap(),
        Some(b"1600".to_vec())
    );
}

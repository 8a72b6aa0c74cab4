//! The behaviour every backend owes the components (see `Backend`), checked the same way
//! for SQLite and Redis.

use super::Backend;
use std::sync::Arc;

/// Runs every check on `kv`, which must be empty. Labels keep stores apart.
pub fn check(kv: Arc<dyn Backend>) {
    stores_are_separate(kv.as_ref());
    compare_and_swap_writes_only_over_the_expected_value(kv.as_ref());
    increments(kv.as_ref());
    pages_in_byte_order(kv.as_ref());
    many_at_once(kv.as_ref());
    racing_instances_never_both_win(kv);
}

fn stores_are_separate(kv: &dyn Backend) {
    kv.set("default", "a", b"1").unwrap();
    kv.set("default", "a", b"2").unwrap();
    kv.set("pending", "a", b"p").unwrap();
    kv.set("default", "b", b"3").unwrap();
    kv.delete("default", "b").unwrap();
    assert_eq!(kv.get("default", "a").unwrap(), Some(b"2".to_vec()));
    assert_eq!(kv.get("pending", "a").unwrap(), Some(b"p".to_vec()));
    assert_eq!(kv.get("default", "b").unwrap(), None);
    assert!(!kv.exists("default", "b").unwrap());
    assert!(kv.exists("pending", "a").unwrap());
    assert_eq!(kv.keys("default").unwrap(), vec!["a".to_string()]);
}

fn compare_and_swap_writes_only_over_the_expected_value(kv: &dyn Backend) {
    assert!(kv.compare_and_swap("cas", "k", None, b"first").unwrap());
    assert!(
        !kv.compare_and_swap("cas", "k", None, b"second").unwrap(),
        "absent was expected"
    );
    assert!(
        !kv.compare_and_swap("cas", "k", Some(b"other"), b"second")
            .unwrap()
    );
    assert!(
        kv.compare_and_swap("cas", "k", Some(b"first"), b"second")
            .unwrap()
    );
    assert_eq!(kv.get("cas", "k").unwrap(), Some(b"second".to_vec()));
    assert_eq!(kv.keys("cas").unwrap(), vec!["k".to_string()]);
}

fn increments(kv: &dyn Backend) {
    assert_eq!(kv.increment("inc", "n", 5).unwrap(), 5);
    assert_eq!(kv.increment("inc", "n", -2).unwrap(), 3);
    assert_eq!(kv.get("inc", "n").unwrap(), Some(b"3".to_vec()));
    kv.set("inc", "x", b"not a number").unwrap();
    assert!(kv.increment("inc", "x", 1).is_err());
    assert_eq!(kv.get("inc", "x").unwrap(), Some(b"not a number".to_vec()));
    assert_eq!(
        kv.keys("inc").unwrap(),
        vec!["n".to_string(), "x".to_string()]
    );
}

fn pages_in_byte_order(kv: &dyn Backend) {
    // Inserted out of order; "a/2" < "a/10" is false in numbers, true in bytes.
    for key in ["b/1", "a/2", "a/10", "a/1", "c"] {
        kv.set("page", key, b"v").unwrap();
    }
    assert_eq!(
        kv.keys_after("page", None, 2).unwrap(),
        vec!["a/1".to_string(), "a/10".to_string()]
    );
    assert_eq!(
        kv.keys_after("page", Some("a/10"), 2).unwrap(),
        vec!["a/2".to_string(), "b/1".to_string()]
    );
    // A cursor that is not itself a key still starts after it.
    assert_eq!(
        kv.keys_after("page", Some("a/"), 1).unwrap(),
        vec!["a/1".to_string()]
    );
    assert!(kv.keys_after("page", Some("c"), 10).unwrap().is_empty());
    kv.delete("page", "a/10").unwrap();
    assert_eq!(
        kv.keys_after("page", Some("a/1"), 1).unwrap(),
        vec!["a/2".to_string()],
        "a deleted key leaves the listing"
    );
}

fn many_at_once(kv: &dyn Backend) {
    let pairs: Vec<(String, Vec<u8>)> = (0..3).map(|i| (format!("k{i}"), vec![i as u8])).collect();
    kv.set_many("many", &pairs).unwrap();
    let keys = vec!["k0".to_string(), "nope".to_string(), "k2".to_string()];
    assert_eq!(
        kv.get_many("many", &keys).unwrap(),
        vec![Some(vec![0]), None, Some(vec![2])]
    );
    assert!(kv.get_many("many", &[]).unwrap().is_empty());
    kv.set_many("many", &[]).unwrap();
    kv.delete_many("many", &[]).unwrap();
    kv.delete_many("many", &keys).unwrap();
    assert_eq!(kv.keys("many").unwrap(), vec!["k1".to_string()]);
}

/// Eight threads claim the same 200 keys by compare-and-swap from absent and count with
/// `increment`: each key has exactly one winner, and the counter loses no addition.
fn racing_instances_never_both_win(kv: Arc<dyn Backend>) {
    let threads: Vec<_> = (0..8)
        .map(|t| {
            let kv = kv.clone();
            std::thread::spawn(move || {
                let mut won = 0;
                for k in 0..200 {
                    let key = format!("claim/{k}");
                    if kv
                        .compare_and_swap("race", &key, None, format!("t{t}").as_bytes())
                        .unwrap()
                    {
                        won += 1;
                    }
                    kv.increment("race", "count", 1).unwrap();
                }
                won
            })
        })
        .collect();
    let won: usize = threads.into_iter().map(|t| t.join().unwrap()).sum();
    assert_eq!(won, 200, "each claim has exactly one winner");
    assert_eq!(kv.get("race", "count").unwrap(), Some(b"1600".to_vec()));
}

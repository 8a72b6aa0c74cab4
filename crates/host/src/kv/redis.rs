//! The Redis backend, for several hosts sharing one state (issue: beyond one machine).
//!
//! Layout, per store label `L`:
//! - `{L}/v/<key>`: the value, as given;
//! - `{L}/index`: a sorted set of every key, all at score 0, so `ZRANGEBYLEX` lists keys in
//!   byte order from a cursor, as the SQLite backend does (Redis's own `SCAN` has no order,
//!   and the components' queues and sweeps rely on it).
//!
//! Every write changes a value and the index together: in `MULTI`/`EXEC` for plain writes,
//! in a Lua script where the write depends on what is stored (compare-and-swap,
//! increment). Both run atomically on the server, so racing hosts see one or the other,
//! never half. The `{L}` hash tag keeps a label's keys in one slot of a Redis Cluster,
//! where multi-key transactions and scripts need that.
//!
//! Durability is the server's: run it with `appendonly yes` and `appendfsync everysec`
//! for the same bound as the SQLite backend (about a second of work on power loss).
//!
//! Calls are async, on tokio: every caller shares one multiplexed connection (see
//! [`RedisKv`]), so no runtime worker ever blocks waiting on Redis.

use super::Backend;
use anyhow::{Context, Result};
use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use redis::{Client, Script};
use std::time::Duration;

/// Longest wait for a connection, or for an answer on one: a Redis that stopped answering
/// turns into a storage error rather than a request that hangs.
const TIMEOUT: Duration = Duration::from_secs(5);
/// Connection attempts retried after the first fails (at `connect`, and when reconnecting
/// after a lost connection), waiting `RETRY_MIN_DELAY`, then twice that (up to
/// `RETRY_MAX_DELAY`), each with up to as much again of random jitter. Few and short, so a
/// Redis that refuses connections is an error within about a second rather than the
/// manager's default of six retries (up to about 13 s of waiting).
const CONNECT_RETRIES: usize = 2;
const RETRY_MIN_DELAY: Duration = Duration::from_millis(100);
const RETRY_MAX_DELAY: Duration = Duration::from_secs(1);

/// Writes `ARGV[3]` at `KEYS[1]` (and indexes `ARGV[4]`) if the value is still `ARGV[2]`,
/// or still absent when `ARGV[1]` is "0". Returns 1 if it wrote.
const COMPARE_AND_SWAP: &str = r"
local current = redis.call('GET', KEYS[1])
if ARGV[1] == '0' then
  if current then return 0 end
elseif current ~= ARGV[2] then
  return 0
end
redis.call('SET', KEYS[1], ARGV[3])
redis.call('ZADD', KEYS[2], 0, ARGV[4])
return 1
";

/// Adds `ARGV[1]` to the integer at `KEYS[1]` and indexes `ARGV[2]`; fails (changing
/// nothing) if the value is not an integer.
const INCREMENT: &str = r"
local sum = redis.call('INCRBY', KEYS[1], ARGV[1])
redis.call('ZADD', KEYS[2], 0, ARGV[2])
return sum
";

/// One multiplexed connection rather than a pool: concurrent callers' commands are written
/// to it as they come and pipelined (each answer goes back to its caller in order), so no
/// caller waits for another's round trip, no worker thread blocks, and there is no pool to
/// size. The manager replaces the connection after an I/O error; a `MULTI`/`EXEC` block or
/// a script is one request on it, so other callers' commands never land inside one.
pub struct RedisKv {
    /// Cheap to clone (a handle on the shared connection); each call clones it, as
    /// commands need it `&mut`.
    conn: ConnectionManager,
    compare_and_swap: Script,
    increment: Script,
}

fn value_key(store: &str, key: &str) -> String {
    format!("{{{store}}}/v/{key}")
}

fn index_key(store: &str) -> String {
    format!("{{{store}}}/index")
}

impl RedisKv {
    /// Connects to `url` (`redis://[user:password@]host[:port][/db]`, or `rediss://` for
    /// TLS) and checks that the server answers.
    pub async fn connect(url: &str) -> Result<RedisKv> {
        let client = Client::open(url)
            .with_context(|| format!("reading the Redis URL {}", redacted(url)))?;
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(TIMEOUT))
            .set_response_timeout(Some(TIMEOUT))
            .set_number_of_retries(CONNECT_RETRIES)
            .set_min_delay(RETRY_MIN_DELAY)
            .set_max_delay(RETRY_MAX_DELAY);
        let answers = async {
            let mut conn = ConnectionManager::new_with_config(client, config).await?;
            redis::cmd("PING").query_async::<String>(&mut conn).await?;
            redis::RedisResult::Ok(conn)
        };
        let conn = answers
            .await
            .with_context(|| format!("Redis at {} does not answer", redacted(url)))?;
        Ok(RedisKv {
            conn,
            compare_and_swap: Script::new(COMPARE_AND_SWAP),
            increment: Script::new(INCREMENT),
        })
    }
}

/// The URL without its password, for error messages.
fn redacted(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => format!("{}://…{}", &url[..scheme], &url[at..]),
        _ => url.to_string(),
    }
}

impl Backend for RedisKv {
    async fn get(&self, store: &str, key: &str) -> Result<Option<Vec<u8>>> {
        let mut conn = self.conn.clone();
        Ok(redis::cmd("GET")
            .arg(value_key(store, key))
            .query_async(&mut conn)
            .await?)
    }

    async fn set(&self, store: &str, key: &str, value: &[u8]) -> Result<()> {
        let mut conn = self.conn.clone();
        redis::pipe()
            .atomic()
            .cmd("SET")
            .arg(value_key(store, key))
            .arg(value)
            .ignore()
            .cmd("ZADD")
            .arg(index_key(store))
            .arg(0)
            .arg(key)
            .ignore()
            .query_async::<()>(&mut conn)
            .await?;
        Ok(())
    }

    async fn delete(&self, store: &str, key: &str) -> Result<()> {
        self.delete_many(store, &[key.to_string()]).await
    }

    async fn exists(&self, store: &str, key: &str) -> Result<bool> {
        let mut conn = self.conn.clone();
        Ok(redis::cmd("EXISTS")
            .arg(value_key(store, key))
            .query_async(&mut conn)
            .await?)
    }

    async fn keys_after(
        &self,
        store: &str,
        cursor: Option<&str>,
        limit: usize,
    ) -> Result<Vec<String>> {
        let from = match cursor {
            Some(cursor) => format!("({cursor}"),
            None => "-".to_string(),
        };
        let mut conn = self.conn.clone();
        Ok(redis::cmd("ZRANGEBYLEX")
            .arg(index_key(store))
            .arg(from)
            .arg("+")
            .arg("LIMIT")
            .arg(0)
            // Redis reads the count as a signed 64-bit integer.
            .arg(limit.min(i64::MAX as usize))
            .query_async(&mut conn)
            .await?)
    }

    async fn compare_and_swap(
        &self,
        store: &str,
        key: &str,
        expected: Option<&[u8]>,
        new: &[u8],
    ) -> Result<bool> {
        let mut conn = self.conn.clone();
        let wrote: i64 = self
            .compare_and_swap
            .key(value_key(store, key))
            .key(index_key(store))
            .arg(if expected.is_some() { "1" } else { "0" })
            .arg(expected.unwrap_or_default())
            .arg(new)
            .arg(key)
            .invoke_async(&mut conn)
            .await?;
        Ok(wrote == 1)
    }

    async fn increment(&self, store: &str, key: &str, delta: i64) -> Result<i64> {
        let mut conn = self.conn.clone();
        Ok(self
            .increment
            .key(value_key(store, key))
            .key(index_key(store))
            .arg(delta)
            .arg(key)
            .invoke_async(&mut conn)
            .await?)
    }

    async fn get_many(&self, store: &str, keys: &[String]) -> Result<Vec<Option<Vec<u8>>>> {
        if keys.is_empty() {
            return Ok(Vec::new());
        }
        let mut mget = redis::cmd("MGET");
        for key in keys {
            mget.arg(value_key(store, key));
        }
        let mut conn = self.conn.clone();
        Ok(mget.query_async(&mut conn).await?)
    }

    async fn set_many(&self, store: &str, pairs: &[(String, Vec<u8>)]) -> Result<()> {
        if pairs.is_empty() {
            return Ok(());
        }
        let mut mset = redis::cmd("MSET");
        let mut zadd = redis::cmd("ZADD");
        zadd.arg(index_key(store));
        for (key, value) in pairs {
            mset.arg(value_key(store, key)).arg(value);
            zadd.arg(0).arg(key);
        }
        let mut conn = self.conn.clone();
        redis::pipe()
            .atomic()
            .add_command(mset)
            .ignore()
            .add_command(zadd)
            .ignore()
            .query_async::<()>(&mut conn)
            .await?;
        Ok(())
    }

    async fn delete_many(&self, store: &str, keys: &[String]) -> Result<()> {
        if keys.is_empty() {
            return Ok(());
        }
        let mut del = redis::cmd("DEL");
        let mut zrem = redis::cmd("ZREM");
        zrem.arg(index_key(store));
        for key in keys {
            del.arg(value_key(store, key));
            zrem.arg(key);
        }
        let mut conn = self.conn.clone();
        redis::pipe()
            .atomic()
            .add_command(del)
            .ignore()
            .add_command(zrem)
            .ignore()
            .query_async::<()>(&mut conn)
            .await?;
        Ok(())
    }

    async fn keys(&self, store: &str) -> Result<Vec<String>> {
        let mut conn = self.conn.clone();
        Ok(redis::cmd("ZRANGEBYLEX")
            .arg(index_key(store))
            .arg("-")
            .arg("+")
            .query_async(&mut conn)
            .await?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::process::{Child, Command, Stdio};
    use std::sync::Arc;

    /// A redis-server of its own on a free loopback port, stopped when dropped.
    struct Server {
        child: Child,
        url: String,
        _dir: tempfile::TempDir,
    }

    impl Drop for Server {
        fn drop(&mut self) {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }

    /// Starts the server; `ready` (below) waits until it answers.
    fn start_server() -> Server {
        let dir = tempfile::tempdir().unwrap();
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let child = Command::new("redis-server")
            .args([
                "--port",
                &port.to_string(),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
            ])
            .arg("--dir")
            .arg(dir.path())
            .stdout(Stdio::null())
            .spawn()
            .expect("redis-server is needed for these tests (.ci/run installs it)");
        Server {
            child,
            url: format!("redis://127.0.0.1:{port}/"),
            _dir: dir,
        }
    }

    /// Connects to `server` once it answers (the server is killed if it never does, when
    /// the panic drops it).
    async fn ready(server: &Server) -> RedisKv {
        for _ in 0..100 {
            if let Ok(kv) = RedisKv::connect(&server.url).await {
                return kv;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("redis-server did not answer on {}", server.url);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn keeps_the_backend_contract() {
        let server = start_server();
        let kv = Arc::new(ready(&server).await);
        crate::kv::contract::check(kv).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn a_server_that_does_not_answer_is_an_error_at_connect() {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let error = RedisKv::connect(&format!("redis://user:secret@127.0.0.1:{port}/"))
            .await
            .err()
            .expect("nothing listens there");
        let text = format!("{error:#}");
        assert!(text.contains("does not answer"), "{text}");
        assert!(!text.contains("secret"), "the password leaked: {text}");
    }
}

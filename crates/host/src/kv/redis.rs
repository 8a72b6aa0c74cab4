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

use super::Backend;
use anyhow::{Context, Result};
use redis::{Client, Connection, RedisResult, Script};
use std::sync::Mutex;
use std::time::Duration;

/// Longest wait for a connection, or for an answer on one: a Redis that stopped answering
/// turns into a storage error rather than a request that hangs.
const TIMEOUT: Duration = Duration::from_secs(5);
/// Idle connections kept for reuse; more are opened under load and closed after.
const IDLE_CONNECTIONS: usize = 32;

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

pub struct RedisKv {
    client: Client,
    idle: Mutex<Vec<Connection>>,
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
    pub fn connect(url: &str) -> Result<RedisKv> {
        let client = Client::open(url)
            .with_context(|| format!("reading the Redis URL {}", redacted(url)))?;
        let kv = RedisKv {
            client,
            idle: Mutex::new(Vec::new()),
            compare_and_swap: Script::new(COMPARE_AND_SWAP),
            increment: Script::new(INCREMENT),
        };
        kv.with(|conn| redis::cmd("PING").query::<String>(conn))
            .with_context(|| format!("Redis at {} does not answer", redacted(url)))?;
        Ok(kv)
    }

    /// Runs `f` on a pooled connection. A connection that saw an error is closed rather
    /// than reused (it may hold half an answer).
    fn with<T>(&self, f: impl FnOnce(&mut Connection) -> RedisResult<T>) -> Result<T> {
        let pooled = self.idle.lock().unwrap_or_else(|e| e.into_inner()).pop();
        let mut conn = match pooled {
            Some(conn) => conn,
            None => {
                let conn = self.client.get_connection_with_timeout(TIMEOUT)?;
                conn.set_read_timeout(Some(TIMEOUT))?;
                conn.set_write_timeout(Some(TIMEOUT))?;
                conn
            }
        };
        let result = f(&mut conn)?;
        let mut idle = self.idle.lock().unwrap_or_else(|e| e.into_inner());
        if idle.len() < IDLE_CONNECTIONS {
            idle.push(conn);
        }
        Ok(result)
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
    fn get(&self, store: &str, key: &str) -> Result<Option<Vec<u8>>> {
        self.with(|conn| redis::cmd("GET").arg(value_key(store, key)).query(conn))
    }

    fn set(&self, store: &str, key: &str, value: &[u8]) -> Result<()> {
        self.with(|conn| {
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
                .query(conn)
        })
    }

    fn delete(&self, store: &str, key: &str) -> Result<()> {
        self.delete_many(store, &[key.to_string()])
    }

    fn exists(&self, store: &str, key: &str) -> Result<bool> {
        self.with(|conn| redis::cmd("EXISTS").arg(value_key(store, key)).query(conn))
    }

    fn keys_after(&self, store: &str, cursor: Option<&str>, limit: usize) -> Result<Vec<String>> {
        let from = match cursor {
            Some(cursor) => format!("({cursor}"),
            None => "-".to_string(),
        };
        self.with(|conn| {
            redis::cmd("ZRANGEBYLEX")
                .arg(index_key(store))
                .arg(from)
                .arg("+")
                .arg("LIMIT")
                .arg(0)
                // Redis reads the count as a signed 64-bit integer.
                .arg(limit.min(i64::MAX as usize))
                .query(conn)
        })
    }

    fn compare_and_swap(
        &self,
        store: &str,
        key: &str,
        expected: Option<&[u8]>,
        new: &[u8],
    ) -> Result<bool> {
        let wrote: i64 = self.with(|conn| {
            self.compare_and_swap
                .key(value_key(store, key))
                .key(index_key(store))
                .arg(if expected.is_some() { "1" } else { "0" })
                .arg(expected.unwrap_or_default())
                .arg(new)
                .arg(key)
                .invoke(conn)
        })?;
        Ok(wrote == 1)
    }

    fn increment(&self, store: &str, key: &str, delta: i64) -> Result<i64> {
        self.with(|conn| {
            self.increment
                .key(value_key(store, key))
                .key(index_key(store))
                .arg(delta)
                .arg(key)
                .invoke(conn)
        })
    }

    fn get_many(&self, store: &str, keys: &[String]) -> Result<Vec<Option<Vec<u8>>>> {
        if keys.is_empty() {
            return Ok(Vec::new());
        }
        let mut mget = redis::cmd("MGET");
        for key in keys {
            mget.arg(value_key(store, key));
        }
        self.with(|conn| mget.query(conn))
    }

    fn set_many(&self, store: &str, pairs: &[(String, Vec<u8>)]) -> Result<()> {
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
        self.with(|conn| {
            redis::pipe()
                .atomic()
                .add_command(mset)
                .ignore()
                .add_command(zadd)
                .ignore()
                .query(conn)
        })
    }

    fn delete_many(&self, store: &str, keys: &[String]) -> Result<()> {
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
        self.with(|conn| {
            redis::pipe()
                .atomic()
                .add_command(del)
                .ignore()
                .add_command(zrem)
                .ignore()
                .query(conn)
        })
    }

    fn keys(&self, store: &str) -> Result<Vec<String>> {
        self.with(|conn| {
            redis::cmd("ZRANGEBYLEX")
                .arg(index_key(store))
                .arg("-")
                .arg("+")
                .query(conn)
        })
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

    fn start_server() -> Server {
        let dir = tempfile::tempdir().unwrap();
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let mut child = Command::new("redis-server")
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
        let url = format!("redis://127.0.0.1:{port}/");
        for _ in 0..100 {
            if RedisKv::connect(&url).is_ok() {
                return Server {
                    child,
                    url,
                    _dir: dir,
                };
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = child.kill();
        let _ = child.wait();
        panic!("redis-server did not answer on {url}");
    }

    #[test]
    fn keeps_the_backend_contract() {
        let server = start_server();
        let kv = Arc::new(RedisKv::connect(&server.url).unwrap());
        crate::kv::contract::check(kv);
    }

    #[test]
    fn a_server_that_does_not_answer_is_an_error_at_connect() {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let error = RedisKv::connect(&format!("redis://user:secret@127.0.0.1:{port}/"))
            .err()
            .expect("nothing listens there");
        let text = format!("{error:#}");
        assert!(text.contains("does not answer"), "{text}");
        assert!(!text.contains("secret"), "the password leaked: {text}");
    }
}

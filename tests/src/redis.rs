//! A real redis-server for the suite's Redis runs (`MESSAGING_TEST_STORE=redis`) and for
//! several hosts sharing one state, on a free loopback port, in its own folder.

use crate::free_port;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;

pub struct RedisServer {
    child: Child,
    pub url: String,
    _dir: tempfile::TempDir,
}

/// Which store the suite's gateways use: `MESSAGING_TEST_STORE=redis` puts their
/// `default` and `pending` stores on a redis-server of their own, anything else (or
/// nothing) keeps them in the host's SQLite file.
pub fn suite_uses_redis() -> bool {
    std::env::var("MESSAGING_TEST_STORE").is_ok_and(|v| v == "redis")
}

impl RedisServer {
    /// Starts a server and waits until it answers. Panics if redis-server is missing
    /// (`.ci/run` installs it).
    pub fn start() -> Arc<RedisServer> {
        for _attempt in 0..5 {
            let dir = tempfile::tempdir().expect("tempdir");
            let port = free_port();
            let mut child = Command::new("redis-server")
                .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
                .args(["--save", "", "--appendonly", "no"])
                .arg("--dir")
                .arg(dir.path())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .expect("redis-server is needed (.ci/run installs it)");
            let url = format!("redis://127.0.0.1:{port}/");
            let answered = (0..100).any(|_| {
                if child.try_wait().ok().flatten().is_some() {
                    return false;
                }
                let ok = ping(&url);
                if !ok {
                    std::thread::sleep(std::time::Duration::from_millis(50));
                }
                ok
            });
            if answered {
                return Arc::new(RedisServer {
                    child,
                    url,
                    _dir: dir,
                });
            }
            // Most likely the port was taken between the probe and the bind.
            let _ = child.kill();
            let _ = child.wait();
        }
        panic!("redis-server did not start after five tries");
    }

    /// A runtime-config file that puts the gateway's stores on this server.
    pub fn runtime_config(&self) -> String {
        format!(
            "[key_value_store.default]\ntype = \"redis\"\nurl = \"{url}\"\n\n\
             [key_value_store.pending]\ntype = \"redis\"\nurl = \"{url}\"\n\n\
             [key_value_store.outbox]\ntype = \"redis\"\nurl = \"{url}\"\n",
            url = self.url
        )
    }

    /// A runtime-config file for Spin's own Redis store, which keeps a store's keys as
    /// they are, without a namespace: each store gets a database of its own
    /// ([`SPIN_DATABASES`]), as `infra/spin/runtime-config.redis.toml` does.
    pub fn spin_runtime_config(&self) -> String {
        SPIN_DATABASES
            .iter()
            .map(|(store, db)| {
                format!(
                    "[key_value_store.{store}]\ntype = \"redis\"\nurl = \"{url}{db}\"\n\n",
                    url = self.url
                )
            })
            .collect()
    }

    /// Every (store, key, value) Spin keeps here (the layout of
    /// [`RedisServer::spin_runtime_config`]), ordered by store and key.
    pub fn spin_rows(&self) -> Vec<(String, String, Vec<u8>)> {
        // One script per database: a store's rows are read at one moment.
        const SNAPSHOT: &str = r"
            local out = {}
            for _, key in ipairs(redis.call('KEYS', '*')) do
              table.insert(out, key)
              table.insert(out, redis.call('GET', key))
            end
            return out
        ";
        let mut rows = Vec::new();
        for (store, db) in SPIN_DATABASES {
            let mut connection = redis::Client::open(format!("{}{db}", self.url))
                .and_then(|c| c.get_connection())
                .expect("connect to the test redis-server");
            let flat: Vec<Vec<u8>> = redis::Script::new(SNAPSHOT)
                .invoke(&mut connection)
                .expect("the stored rows");
            rows.extend(flat.chunks(2).map(|row| {
                let key = String::from_utf8(row[0].clone()).expect("a UTF-8 key");
                (store.to_string(), key, row[1].clone())
            }));
        }
        rows.sort();
        rows
    }

    fn connection(&self) -> redis::Connection {
        redis::Client::open(self.url.as_str())
            .and_then(|c| c.get_connection())
            .expect("connect to the test redis-server")
    }

    /// Every (store, key, value) the host keeps here, read through the host's layout
    /// (`{label}/index` lists a label's keys, `{label}/v/<key>` holds a value), ordered
    /// by store and key as the SQLite rows are. One script reads it all, so a host at work
    /// cannot change it halfway through the reading.
    /// Overwrites the value of an existing key of the project host's store `label`.
    pub fn overwrite(&self, label: &str, key: &str, value: &[u8]) {
        let name = format!("{{{label}}}/v/{key}");
        let replaced: bool = redis::cmd("SET")
            .arg(&name)
            .arg(value)
            .arg("XX")
            .query::<Option<String>>(&mut self.connection())
            .expect("SET")
            .is_some();
        assert!(replaced, "{label}/{key} exists");
    }

    pub fn rows(&self) -> Vec<(String, String, Vec<u8>)> {
        const SNAPSHOT: &str = r"
            local out = {}
            local indexes = redis.call('KEYS', '{*}/index')
            table.sort(indexes)
            local listed = 0
            for _, index in ipairs(indexes) do
              local label = string.sub(index, 2, string.len(index) - string.len('}/index'))
              for _, key in ipairs(redis.call('ZRANGEBYLEX', index, '-', '+')) do
                local value = redis.call('GET', '{' .. label .. '}/v/' .. key)
                if not value then
                  return redis.error_reply(label .. '/' .. key .. ' is indexed but has no value')
                end
                table.insert(out, label)
                table.insert(out, key)
                table.insert(out, value)
                listed = listed + 1
              end
            end
            if listed ~= #redis.call('KEYS', '{*}/v/*') then
              return redis.error_reply('values outside the index')
            end
            return out
        ";
        let flat: Vec<Vec<u8>> = redis::Script::new(SNAPSHOT)
            .invoke(&mut self.connection())
            .expect("the stored rows");
        flat.chunks(3)
            .map(|row| {
                let text = |b: &Vec<u8>| String::from_utf8(b.clone()).expect("a UTF-8 key");
                (text(&row[0]), text(&row[1]), row[2].clone())
            })
            .collect()
    }
}

/// The database of each store when Spin runs on this server.
const SPIN_DATABASES: [(&str, u8); 3] = [("default", 0), ("pending", 1), ("outbox", 2)];

fn ping(url: &str) -> bool {
    redis::Client::open(url)
        .and_then(|c| c.get_connection_with_timeout(std::time::Duration::from_millis(200)))
        .and_then(|mut c| redis::cmd("PING").query::<String>(&mut c))
        .is_ok()
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

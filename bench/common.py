"""What the Python benchmarks share: the repository root, the benchmark caller's key, a
free loopback port, a copy of the app to serve, the host's environment, starting the
host, load from bench/loadgen, the compiled doubles of bench/double, CPU time from /proc,
and a small HTTP server for doubles that must say more than a count."""

import asyncio
import hashlib
import json
import os
import shlex
import shutil
import signal
import socket
import sqlite3
import subprocess
import threading
import time
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
KEY = "bench-key-0123456789abcdef"
# The operator caller that ticks Spin, as the SpinKube deployment's ticker does.
TICKER_KEY = "bench-ticker-0123456789abcdef"
TICK_EVERY_S = 5


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_port(port, secs=30):
    deadline = time.time() + secs
    while time.time() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.05)
    raise SystemExit(f"nothing listens on {port}")


def copy_app(app):
    """Fills the folder `app` with spin.toml and policies/, and links target/ (the built
    components), so a benchmark can change its policies without touching the tree."""
    os.makedirs(app, exist_ok=True)
    shutil.copy(os.path.join(ROOT, "spin.toml"), app)
    shutil.copytree(os.path.join(ROOT, "policies"), os.path.join(app, "policies"))
    os.symlink(os.path.join(ROOT, "target"), os.path.join(app, "target"))


def host_env(extra=None):
    """The host's environment: the benchmark caller (KEY, every role), throwaway secrets,
    warnings-only logs; `extra` adds or overrides variables."""
    env = dict(os.environ)
    env.update({
        "SPIN_VARIABLE_API_KEYS": ",".join([
            "bench:dev:" + hashlib.sha256(KEY.encode()).hexdigest(),
            "ticker:operator:" + hashlib.sha256(TICKER_KEY.encode()).hexdigest(),
        ]),
        "SPIN_VARIABLE_HASHING_KEY": "bench-hashing-key",
        "SPIN_VARIABLE_RECEIPT_SECRET": "bench-receipt-secret",
        "SPIN_VARIABLE_CALLBACK_SECRET": "bench-callback-secret",
        "SPIN_VARIABLE_STORAGE_KEYS": "bench-storage-key-0123456789abcdef",
        "MESSAGING_LOG": os.environ.get("MESSAGING_LOG", "warn"),
    })
    env.update(extra or {})
    return env


def start_host(host, app, port, env=None, secs=120, tick=True):
    """Starts the app in `app` on loopback `port` with `env` (default: `host_env()`) and
    returns its process once it says it listens. Polls every 2 ms, so the cold-start
    benchmark can time a start.

    On the project host `host` by default; with `MESSAGING_RUNTIME=spin`, on the Spin CLI
    (`MESSAGING_SPIN`, default ../shared/spin/spin) with the repository's
    runtime-config.toml, as the test suites run it. `MESSAGING_HOST_ARGS` adds flags (the
    same names on both), e.g. `--max-instance-reuse-count 1` for a fresh instance per
    request. On Spin, `tick` posts `/v1/tick` every few seconds, as its deployments do;
    a benchmark that times ticks or idle instances turns it off."""
    extra = shlex.split(os.environ.get("MESSAGING_HOST_ARGS", ""))
    if os.environ.get("MESSAGING_RUNTIME") == "spin":
        spin = os.environ.get("MESSAGING_SPIN", os.path.join(ROOT, "..", "shared", "spin", "spin"))
        shutil.copy(os.path.join(ROOT, "runtime-config.toml"), app)
        spin_stores_in_wal_mode(os.path.join(app, ".spin"))
        cmd = [spin, "up", "--from", os.path.join(app, "spin.toml"),
               "--state-dir", os.path.join(app, ".spin"), "--listen", f"127.0.0.1:{port}",
               "--runtime-config-file", os.path.join(app, "runtime-config.toml"), *extra]
        ready, secs = "Serving http://", max(secs, 600)
    else:
        cmd = [host, "--manifest", os.path.join(app, "spin.toml"), "--listen", f"127.0.0.1:{port}",
               "--cache-dir", os.path.join(ROOT, "target/component-cache"), *extra]
        ready = "listening on"
    out = open(os.path.join(app, "host.out"), "w+")
    # A session of its own: `spin up` runs the app in a child process, which a signal to
    # `spin up` alone would leave running (`Runtime.terminate` signals the whole group).
    proc = Runtime(subprocess.Popen(
        cmd, cwd=app, env=env or host_env(), stdout=out,
        stderr=open(os.path.join(app, "host.log"), "w"), start_new_session=True))
    deadline = time.time() + secs
    while time.time() < deadline:
        out.seek(0)
        if ready in out.read():
            if tick and os.environ.get("MESSAGING_RUNTIME") == "spin":
                proc.tick_every(f"http://127.0.0.1:{port}/v1/tick", TICK_EVERY_S)
            return proc
        time.sleep(0.002)
    proc.kill()
    raise SystemExit("the runtime did not start; see " + os.path.join(app, "host.log"))


def spin_stores_in_wal_mode(state_dir):
    """Spin's SQLite key-value files as WAL databases before Spin first opens them, as
    README.md ("Run on Spin") tells operators and `cargo xtask spin-up` does
    (xtask/src/spin_stores.rs says why)."""
    os.makedirs(state_dir, exist_ok=True)
    for name in ("sqlite_key_value.db", "pending.db", "outbox.db"):
        conn = sqlite3.connect(os.path.join(state_dir, name))
        try:
            mode = conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]
        finally:
            conn.close()
        if mode != "wal":
            raise SystemExit(f"{name} stays in {mode} mode")


class Runtime:
    """The runtime's process and every process it started."""

    def __init__(self, proc):
        self.proc = proc
        self.ticking = threading.Event()

    def tick_every(self, url, secs):
        """`POST url` as the ticker every `secs` until the runtime is stopped: Spin has no
        timer, and retries and work left by a crash wait for a tick (`cargo xtask
        spin-up` and the SpinKube deployment tick the same way)."""
        def run():
            while not self.ticking.wait(secs):
                request = urllib.request.Request(
                    url, method="POST", data=b"",
                    headers={"authorization": f"Bearer {TICKER_KEY}"})
                try:
                    urllib.request.urlopen(request, timeout=30).read()
                except OSError:
                    pass  # A tick that fails (Spin restarting) is the next tick's work.
        threading.Thread(target=run, daemon=True).start()

    def pids(self):
        return group_pids(self.proc.pid)

    def _signal(self, sig):
        try:
            os.killpg(self.proc.pid, sig)
        except ProcessLookupError:
            pass

    def terminate(self):
        self.ticking.set()
        self._signal(signal.SIGTERM)

    def kill(self):
        self.ticking.set()
        self._signal(signal.SIGKILL)

    def wait(self, timeout=None):
        return self.proc.wait(timeout)


def africastalking_env(url):
    """Variables that make Africa's Talking at `url` the SMS provider."""
    return {
        "SPIN_VARIABLE_SMS_PROVIDER": "africastalking",
        "SPIN_VARIABLE_AFRICASTALKING_URL": url,
        "SPIN_VARIABLE_AFRICASTALKING_USERNAME": "bench",
        "SPIN_VARIABLE_AFRICASTALKING_API_KEY": "bench-api-key",
    }


def load(loadgen, url, connections, total, method="GET", headers=(), body="", first=0,
         item="", items=0):
    """Sends exactly `total` requests over `connections` keep-alive connections
    (bench/loadgen) and returns its JSON summary; `{n}` in the URL or body becomes the
    request's number, counted from `first`. With `items`, `{items}` in the body becomes
    that many copies of `item`, each `{n}` its own number."""
    cmd = [loadgen, "--url", url, "--method", method, "--total", str(total),
           "--connections", str(connections), "--first", str(first), "--body", body]
    if items:
        cmd += ["--item", item, "--items", str(items)]
    for header in headers:
        cmd += ["--header", header]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
    return json.loads(out)


class Receiver:
    """A small HTTP/1.1 server on asyncio (keep-alive, Content-Length or chunked bodies),
    in a thread of its own. `answer(path, body)` gives (status, body bytes) and may count;
    `times` records when each counted request arrived."""

    def __init__(self, answer):
        self.answer = answer
        self.count = 0
        self.last = None
        self.lock = threading.Lock()
        self.port = free_port()
        self.loop = asyncio.new_event_loop()
        threading.Thread(target=self._run, daemon=True).start()
        wait_port(self.port)

    def hit(self):
        with self.lock:
            self.count += 1
            self.last = time.monotonic()

    def _run(self):
        asyncio.set_event_loop(self.loop)
        server = self.loop.run_until_complete(
            asyncio.start_server(self._serve, "127.0.0.1", self.port, backlog=1024))
        self.loop.run_until_complete(server.serve_forever())

    async def _serve(self, reader, writer):
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                lines = head.decode("latin-1").split("\r\n")
                path = lines[0].split(" ")[1]
                headers = {}
                for line in lines[1:]:
                    if ":" in line:
                        k, v = line.split(":", 1)
                        headers[k.strip().lower()] = v.strip()
                body = b""
                if headers.get("transfer-encoding", "").lower() == "chunked":
                    while True:
                        size = int((await reader.readline()).split(b";")[0].strip(), 16)
                        chunk = await reader.readexactly(size + 2)
                        if size == 0:
                            break
                        body += chunk[:size]
                elif "content-length" in headers:
                    body = await reader.readexactly(int(headers["content-length"]))
                status, data = self.answer(self, path, body)
                writer.write(
                    f"HTTP/1.1 {status} OK\r\ncontent-type: application/json\r\n"
                    f"content-length: {len(data)}\r\n\r\n".encode() + data)
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError, ValueError):
            # The peer went away mid-request (a killed runtime, a closed connection).
            pass
        finally:
            writer.close()


class Double:
    """A compiled double of bench/double (`role`: `africastalking` or `receiver`) on a free
    loopback port; `count` is what it counted so far."""

    def __init__(self, role):
        binary = os.environ.get("BENCH_DOUBLE", os.path.join(ROOT, "target/release/bench-double"))
        self.proc = subprocess.Popen([binary, "--role", role], stdout=subprocess.PIPE, text=True)
        self.port = int(self.proc.stdout.readline().split()[-1])

    @property
    def count(self):
        with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/count", timeout=10) as r:
            return json.load(r)["count"]

    def stop(self):
        self.proc.terminate()
        self.proc.wait()


def cpu_seconds(pids):
    """User and system CPU seconds that the processes `pids` (all their threads) used so far."""
    tick = os.sysconf("SC_CLK_TCK")
    total = 0
    for pid in pids:
        try:
            with open(f"/proc/{pid}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except FileNotFoundError:
            continue
        total += int(fields[11]) + int(fields[12])  # utime, stime
    return total / tick


def group_pids(leader):
    """The processes of the process group `leader` leads (a runtime and what it started)."""
    pids = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except (FileNotFoundError, ProcessLookupError):
            continue
        if int(fields[2]) == leader:  # pgrp
            pids.append(int(entry))
    return pids

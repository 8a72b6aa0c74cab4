#!/usr/bin/env python3
"""Broadcast benchmark: a group of N members (1,000,000 by default) broadcast by SMS
through a local Africa's Talking double that accepts everything, on the project host.

Prints: time to fill the group through the API, time from the broadcast's 202 until every
recipient has a persisted outcome, the host's peak memory, and the time from an emergency
message's 202 to its first provider request while the bulk broadcast is in flight.

With `--store redis`, the stores are on a local redis-server (append-only file fsynced each
second, the SQLite file's durability); `--hosts N` (Redis only) runs N host processes on
it, all draining the same broadcast (requests go to the first).

Usage: bench/broadcast.py --host target/release/messaging-host [--members N]
       [--store sqlite|redis] [--hosts N]
(`cargo xtask bench-broadcast [N]` builds and runs it.)
"""

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from common import KEY, ROOT, africastalking_env, copy_app, free_port, host_env, wait_port
EMERGENCY_NUMBER = "+19990000001"
EMERGENCY_POLICY = """description = "Emergency alerts"
roles = ["*"]
validity = "1h"
priority = "emergency"
[channels.sms]
cell = "deliver-sms"
"""


def read_body(handler):
    """The request body, sent with Content-Length or chunked (as components send it)."""
    if handler.headers.get("transfer-encoding", "").lower() == "chunked":
        body = b""
        while True:
            size = int(handler.rfile.readline().split(b";")[0].strip(), 16)
            chunk = handler.rfile.read(size + 2)
            if size == 0:
                return body
            body += chunk[:size]
    return handler.rfile.read(int(handler.headers.get("content-length", 0)))


class Double(BaseHTTPRequestHandler):
    """Africa's Talking's send API: one Recipients[] entry per number, all accepted."""

    numbers = 0
    requests = 0
    emergency_seen_at = None
    lock = threading.Lock()

    def do_POST(self):
        body = read_body(self)
        form = urllib.parse.parse_qs(body.decode())
        to = form.get("to", [""])[0].split(",")
        with Double.lock:
            Double.numbers += len(to)
            Double.requests += 1
            if EMERGENCY_NUMBER in to and Double.emergency_seen_at is None:
                Double.emergency_seen_at = time.monotonic()
        recipients = [
            {"statusCode": 101, "number": n, "status": "Success", "cost": "KES 0.8000",
             "messageId": f"ATXid_{n.lstrip('+')}"}
            for n in to
        ]
        answer = json.dumps({"SMSMessageData": {"Message": "ok", "Recipients": recipients}})
        data = answer.encode()
        self.send_response(201)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args):
        pass


def call(base, path, body=None):
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(
        base + path, data=data, method="GET" if body is None else "POST",
        headers={"authorization": f"Bearer {KEY}", "content-type": "application/json"})
    with urllib.request.urlopen(req, timeout=120) as r:
        return r.status, json.loads(r.read() or b"{}")


def peak_rss_mib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmHWM"):
                return int(line.split()[1]) / 1024
    return 0.0


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--host", required=True)
    parser.add_argument("--members", type=int, default=1_000_000)
    parser.add_argument("--store", choices=["sqlite", "redis"], default="sqlite")
    parser.add_argument("--hosts", type=int, default=1)
    args = parser.parse_args()
    if args.hosts > 1 and args.store != "redis":
        parser.error("several hosts share state only on Redis: add --store redis")

    double = ThreadingHTTPServer(("127.0.0.1", 0), Double)
    threading.Thread(target=double.serve_forever, daemon=True).start()
    double_url = f"http://127.0.0.1:{double.server_address[1]}"

    app = tempfile.mkdtemp()
    copy_app(app)
    with open(os.path.join(app, "policies", "emergency.toml"), "w") as f:
        f.write(EMERGENCY_POLICY)
    port = free_port()
    env = host_env(africastalking_env(double_url))
    redis = None
    runtime_config = []
    if args.store == "redis":
        redis_port = free_port()
        redis = subprocess.Popen(
            ["redis-server", "--port", str(redis_port), "--bind", "127.0.0.1", "--dir", app,
             "--save", "", "--appendonly", "yes", "--appendfsync", "everysec"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        url = f"redis://127.0.0.1:{redis_port}/"
        with open(os.path.join(app, "runtime-config.toml"), "w") as f:
            f.write(f'[key_value_store.default]\ntype = "redis"\nurl = "{url}"\n'
                    f'[key_value_store.pending]\ntype = "redis"\nurl = "{url}"\n')
        runtime_config = ["--runtime-config-file", os.path.join(app, "runtime-config.toml")]
        wait_port(redis_port, 5)
    hosts = []
    ports = [port] + [free_port() for _ in range(args.hosts - 1)]
    for i, host_port in enumerate(ports):
        hosts.append(subprocess.Popen(
            [os.path.abspath(args.host), "--manifest", os.path.join(app, "spin.toml"),
             "--listen", f"127.0.0.1:{host_port}", "--data-dir", f".messaging-{i}",
             "--cache-dir", os.path.join(ROOT, "target", "component-cache")] + runtime_config,
            env=env, stdout=open(os.path.join(app, f"host-{i}.out"), "w"),
            stderr=open(os.path.join(app, f"host-{i}.log"), "w")))
    host = hosts[0]
    base = f"http://127.0.0.1:{port}"
    try:
        for host_port in ports:
            wait_port(host_port, 120)
        print(f"machine: {os.cpu_count()} cores; host: {os.path.basename(args.host)}; "
              f"members: {args.members:,}; store: {args.store}; hosts: {args.hosts}")

        _, group = call(base, "/v1/groups", {"name": "bench"})
        gid = group["id"]
        started = time.monotonic()

        def fill(start):
            members = [{"channel": "sms", "address": f"+2547{i:08d}", "language": "sw"}
                       for i in range(start, min(start + 1000, args.members))]
            call(base, f"/v1/groups/{gid}/members", members)

        with ThreadPoolExecutor(4) as pool:
            list(pool.map(fill, range(0, args.members, 1000)))
        filled = time.monotonic() - started
        _, view = call(base, f"/v1/groups/{gid}")
        print(f"group filled: {view['members']:,} members in {filled:.1f} s "
              f"({view['members'] / filled:,.0f} members/s through the API)")
        rss_before = peak_rss_mib(host.pid)

        status, accepted = call(base, "/v1/broadcasts",
                                {"group": gid, "body": "Polio vaccination on Saturday"})
        assert status == 202, accepted
        t0 = time.monotonic()
        bid = accepted["id"]

        # The emergency message, once a tenth of the bulk broadcast has gone.
        emergency_accepted = None
        while True:
            _, progress = call(base, f"/v1/broadcasts/{bid}")
            if progress["state"] in ("done", "cancelled"):
                break
            settled = progress["recipients"] - progress["counts"]["queued"]
            if emergency_accepted is None and settled >= args.members // 10:
                status, _ = call(base, "/v1/messages", {
                    "channel": "sms", "to": EMERGENCY_NUMBER,
                    "body": "Tsunami warning: move inland now", "policy": "emergency"})
                emergency_accepted = time.monotonic()
                assert status == 202
            time.sleep(0.05)
        finished = time.monotonic()
        elapsed = finished - t0
        counts = progress["counts"]
        print(f"broadcast: {progress['recipients']:,} recipients, every outcome persisted "
              f"in {elapsed:.1f} s ({progress['recipients'] / elapsed:,.0f} recipients/s); "
              f"counts {counts}")
        print(f"provider double: {Double.requests:,} requests, {Double.numbers:,} numbers")
        if emergency_accepted is not None and Double.emergency_seen_at is not None:
            print("emergency message during the broadcast: 202 to first provider request "
                  f"{(Double.emergency_seen_at - emergency_accepted) * 1000:.0f} ms "
                  f"(the broadcast finished {finished - Double.emergency_seen_at:.1f} s later)")
        print(f"host peak RSS: {peak_rss_mib(host.pid):.0f} MiB "
              f"(after filling the group: {rss_before:.0f} MiB)")
        for i, other in enumerate(hosts[1:], start=1):
            print(f"host {i} peak RSS: {peak_rss_mib(other.pid):.0f} MiB")
        if redis is not None:
            print(f"redis-server peak RSS: {peak_rss_mib(redis.pid):.0f} MiB")
    finally:
        for h in hosts:
            h.terminate()
        for h in hosts:
            h.wait()
        if redis is not None:
            redis.terminate()
            redis.wait()
        double.shutdown()
        if not os.environ.get("BENCH_KEEP"):
            shutil.rmtree(app, ignore_errors=True)
        else:
            print(f"kept {app}")


if __name__ == "__main__":
    sys.exit(main())

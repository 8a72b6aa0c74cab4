#!/usr/bin/env python3
"""Cold-start benchmark: the first request after the host has been idle.

The host reuses an instance as Spin does and drops it after `--idle-instance-timeout`
(1 s by default) without requests, so a request after a longer pause starts its component
from nothing: measure with `--idle-ms` above that timeout (1100), or with
`MESSAGING_HOST_ARGS="--max-instance-reuse-count 1"` for a fresh instance every time.
This script starts the host, then takes SAMPLES of: wait IDLE_MS with nothing in flight,
open a new connection, send one request, time until the whole answer is read. A 404 from
the host's router (no instance) gives the floor; then two requests are measured:
`GET /health` (ingress reads the policy folder's check and the store) and
`POST /v1/messages` (an SMS accepted: authentication, policy, sealing, store).

Prints p50/p99/max per request kind, client-side (loopback included). Then the cold start
of the process itself, as after scaling from zero: from starting the host (components
already compiled into the cache) to the answer of its first `POST /v1/messages`, over
STARTS starts.

Usage: bench/cold_start.py --host target/release/messaging-host [--samples 1000] [--idle-ms 50] [--starts 10]
(`cargo xtask bench-cold-start` builds and runs it.)
"""

import argparse
import http.client
import os
import shutil
import tempfile
import time

from common import KEY, copy_app, free_port, start_host


def message(i):
    body = '{"channel":"sms","to":"+254712345678","body":"Cold start %d-%d"}' % (os.getpid(), i)
    headers = {"authorization": "Bearer " + KEY, "content-type": "application/json"}
    return "POST", "/v1/messages", body, headers


def one(port, method, path, body, headers, expected=None):
    """Seconds from connecting to having read the whole answer (a 2xx, or `expected`)."""
    started = time.perf_counter()
    conn = http.client.HTTPConnection("127.0.0.1", port)
    conn.request(method, path, body=body, headers=headers)
    response = conn.getresponse()
    response.read()
    elapsed = time.perf_counter() - started
    conn.close()
    if response.status != expected and response.status >= 300:
        raise SystemExit(f"{method} {path} answered {response.status}")
    return elapsed


def percentile(sorted_values, p):
    return sorted_values[min(len(sorted_values) - 1, int(len(sorted_values) * p / 100))]


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--host", required=True)
    parser.add_argument("--samples", type=int, default=1000)
    parser.add_argument("--idle-ms", type=int, default=50)
    parser.add_argument("--starts", type=int, default=10)
    args = parser.parse_args()

    app = tempfile.mkdtemp(prefix="cold-start-")
    copy_app(app)
    port = free_port()
    proc = start_host(args.host, app, port, tick=False)
    try:
        # The 404 is answered by the host's router without an instance: what is left is
        # the client, loopback and waking an idle machine, the floor under the others.
        # (name, the i-th request, the status expected if not a 2xx)
        kinds = [
            ("GET /no-such-route (404, no instance)",
             lambda i: ("GET", "/no-such-route", None, {}), 404),
            ("GET /health", lambda i: ("GET", "/health", None, {}), None),
            ("POST /v1/messages", message, None),
        ]
        print(f"machine: {os.cpu_count()} cores; {args.samples} samples each, "
              f"{args.idle_ms} ms idle before each, new connection each")
        for name, request, expected in kinds:
            times = []
            for i in range(args.samples):
                time.sleep(args.idle_ms / 1000)
                times.append(one(port, *request(i), expected))
            times.sort()
            print(f"{name}: p50 {percentile(times, 50) * 1000:.2f} ms, "
                  f"p99 {percentile(times, 99) * 1000:.2f} ms, max {times[-1] * 1000:.2f} ms")
    finally:
        proc.terminate()
        proc.wait()
    try:
        starts = []
        for i in range(args.starts):
            started = time.perf_counter()
            proc = start_host(args.host, app, port, tick=False)
            one(port, *message(10_000_000 + i))
            starts.append(time.perf_counter() - started)
            proc.terminate()
            proc.wait()
        starts.sort()
        print(f"process start to first message accepted ({args.starts} starts): "
              f"p50 {percentile(starts, 50) * 1000:.0f} ms, max {starts[-1] * 1000:.0f} ms")
    finally:
        shutil.rmtree(app, ignore_errors=True)


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""What a tick costs with a backlog waiting for later: the tick must find due work without
reading what is not due, so its time must not grow with the backlog.

Starts the host (release, SQLite, its own timer off), accepts WAITING SMS scheduled for
tomorrow (through `POST /v1/messages/batch`, 1,000 per request, so each is a real message
with its pending entry in a future bucket of its cell's queue), then times TICKS calls of
`POST /v1/tick` (the operator's tick of every worker: the delivery cells' drains, the
notifier's, the sweeper, the broadcaster) and prints p50 and p99.

Usage: bench/tick.py --host target/release/messaging-host [--waiting 1000000] [--ticks 50]
(`cargo xtask bench-tick [WAITING]` builds and runs it; run it with 100 and with 1,000,000.)
"""

import argparse
import datetime
import hashlib
import json
import os
import shutil
import statistics
import tempfile
import time
import urllib.request

from common import KEY, ROOT, copy_app, free_port, host_env, load, start_host

OPERATOR_KEY = "bench-operator-key-0123456789"
# Request n goes to +254700000000+n: a number of its own per message.
FIRST_NUMBER = 254_700_000_000
PER_REQUEST = 1000


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--host", required=True)
    parser.add_argument("--loadgen", default=os.path.join(ROOT, "target/release/loadgen"))
    parser.add_argument("--waiting", type=int, default=1_000_000)
    parser.add_argument("--ticks", type=int, default=50)
    args = parser.parse_args()

    app = tempfile.mkdtemp(prefix="tick-")
    copy_app(app)
    port = free_port()
    keys = (f"bench:dev:{hashlib.sha256(KEY.encode()).hexdigest()},"
            f"ops:operator:{hashlib.sha256(OPERATOR_KEY.encode()).hexdigest()}")
    env = host_env({"SPIN_VARIABLE_API_KEYS": keys, "MESSAGING_TICK_MS": "0"})
    proc = start_host(args.host, app, port, env, tick=False)
    try:
        base = f"http://127.0.0.1:{port}"
        tomorrow = (datetime.datetime.now(datetime.timezone.utc)
                    + datetime.timedelta(days=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
        item = ('{"channel":"sms","to":"+{n}","body":"Your clinic appointment is tomorrow",'
                f'"send_at":"{tomorrow}"}}')
        started = time.monotonic()
        requests = max(1, args.waiting // PER_REQUEST)
        per = min(args.waiting, PER_REQUEST)
        filled = load(args.loadgen, f"{base}/v1/messages/batch", 4, requests, "POST",
                      ["content-type: application/json", f"authorization: Bearer {KEY}"],
                      '{"messages":[{items}]}', FIRST_NUMBER, item, per)
        if filled["non_2xx"] or filled["errors"]:
            raise SystemExit(f"filling failed: {filled}")
        print(f"{requests * per:,} messages waiting for tomorrow, accepted in "
              f"{time.monotonic() - started:.0f} s")
        times = []
        for _ in range(args.ticks):
            request = urllib.request.Request(
                f"{base}/v1/tick", method="POST", data=b"",
                headers={"authorization": f"Bearer {OPERATOR_KEY}"})
            t = time.perf_counter()
            with urllib.request.urlopen(request, timeout=120) as answer:
                body = json.loads(answer.read())
            times.append((time.perf_counter() - t) * 1000)
            if body.get("failed"):
                raise SystemExit(f"a tick failed: {body}")
        times.sort()
        p99 = times[min(len(times) - 1, int(len(times) * 0.99))]
        print(f"POST /v1/tick with {requests * per:,} waiting: p50 "
              f"{statistics.median(times):.1f} ms, p99 {p99:.1f} ms ({args.ticks} ticks)")
    finally:
        proc.terminate()
        proc.wait()
        if not os.environ.get("BENCH_KEEP"):
            shutil.rmtree(app, ignore_errors=True)


if __name__ == "__main__":
    main()

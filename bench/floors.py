#!/usr/bin/env python3
"""Where an accepted message's time goes: the same load against ever more of the path.

Each step sends TOTAL requests over CONNECTIONS keep-alive connections (bench/loadgen) to
one host (release, SQLite, development outbox) and prints requests/s with p50/p99:

1. host only: an unknown path, answered 404 by the host's router; no instance.
2. an instance: `DELETE /openapi.json`, answered 405 by an ingress instance (fresh or reused, as the host is told)
   (auth-check and policy-router linked in) that does nothing else.
3. authentication: `GET /v1/queue` without credentials, 401 after asking auth-check.
4. accepted, not handed over: an SMS scheduled a year ahead is authenticated, planned,
   sealed and stored, but no delivery cell runs for it.
5. accepted and delivered: an SMS due now, which its cell then sends to the outbox.

Steps 1-3 are the floors under any accepting request on this machine; 4 and 5 split the
message's own cost between ingress and the delivery cell.

Usage: bench/floors.py --host target/release/messaging-host [--total 20000] [--connections 64]
(`cargo xtask bench-floors` builds and runs it.)
"""

import argparse
import datetime
import os
import shutil
import tempfile

from common import KEY, ROOT, copy_app, free_port, load, start_host

# Request n goes to +254700000000+n: a new Kenyan mobile number per message.
FIRST_NUMBER = 254_700_000_000


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--host", required=True)
    parser.add_argument("--loadgen", default=os.path.join(ROOT, "target/release/loadgen"))
    parser.add_argument("--total", type=int, default=20000)
    parser.add_argument("--connections", type=int, default=64)
    args = parser.parse_args()

    app = tempfile.mkdtemp(prefix="floors-")
    copy_app(app)
    port = free_port()
    proc = start_host(args.host, app, port)
    try:
        base = f"http://127.0.0.1:{port}"
        post = ["content-type: application/json", f"authorization: Bearer {KEY}"]
        later = (datetime.datetime.now(datetime.timezone.utc)
                 + datetime.timedelta(days=300)).strftime("%Y-%m-%dT%H:%M:%SZ")
        sms = '{"channel":"sms","to":"+{n}","body":"Your clinic appointment is tomorrow at 9"'
        steps = [
            ("host only (404, no instance)", f"{base}/no-such-route", "GET", [], "", 404),
            ("an instance answers 405", f"{base}/openapi.json", "DELETE", [], "", 405),
            ("authentication (401)", f"{base}/v1/queue", "GET", [], "", 401),
            ("accepted, not handed over (202)", f"{base}/v1/messages", "POST", post,
             sms + f',"send_at":"{later}"}}', 202),
            ("accepted and delivered (202)", f"{base}/v1/messages", "POST", post, sms + "}",
             202),
        ]
        print(f"machine: {os.cpu_count()} cores; {args.total} requests per step, "
              f"{args.connections} connections; SQLite, development outbox")
        print(f"{'step':<34} {'requests/s':>10} {'p50 ms':>8} {'p99 ms':>8}")
        first = FIRST_NUMBER
        for name, url, method, headers, body, expected in steps:
            result = load(args.loadgen, url, args.connections, args.total, method, headers,
                          body, first)
            first += args.total
            # loadgen counts answers outside 2xx; the refusals are the point of steps 1-3.
            wrong = result["non_2xx"] if expected < 300 else result["answers"] - result["non_2xx"]
            if result["errors"] or wrong:
                raise SystemExit(f"{name}: {result} (expected {expected} for every request)")
            print(f"{name:<34} {result['per_s']:>10.0f} {result['p50_ms']:>8.1f} "
                  f"{result['p99_ms']:>8.1f}")
    finally:
        proc.terminate()
        proc.wait()
        shutil.rmtree(app, ignore_errors=True)


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""Store calls per message: the gateway rows of bench/side_by_side.py (single requests, then
BATCH per `POST /v1/messages/batch`, each followed by every delivery report and callback),
run with the host's census of store calls on (`crates/host/src/kv/census.rs`), printed as
calls and keys per message by operation and key shape.

What a message costs in store calls is what bounds the gateway on two cores (bench/README.md);
this is the list to shorten. The census counts every call the components make, the
sweeper's and the ticks' included, so a short run shows their share larger than it is.

Usage: bench/store_calls.py --host target/release/messaging-host [--messages 4000]
       [--top 40]
"""

import argparse
import json
import os
import sys
import tempfile

from side_by_side import BATCH, run_gateway
from common import ROOT


def census(log_path):
    """(op, shape) -> (calls, keys), from the host's JSON log."""
    counted = {}
    with open(log_path) as log:
        for line in log:
            try:
                fields = json.loads(line).get("fields", {})
            except ValueError:
                continue
            if fields.get("message") == "store calls while serving":
                counted[(fields["op"], fields["shape"])] = (fields["calls"], fields["keys"])
    return counted


def show(title, counted, messages, top):
    calls = sum(c for c, _ in counted.values())
    print(f"{title}: {calls / messages:.1f} store calls per message")
    print(f"{'calls/msg':>10} {'keys/msg':>9}  operation and key")
    rows = sorted(counted.items(), key=lambda kv: -kv[1][0])[:top]
    for (op, shape), (c, k) in rows:
        print(f"{c / messages:>10.2f} {k / messages:>9.2f}  {op} {shape}")
    print()


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--host", required=True)
    parser.add_argument("--loadgen", default=os.path.join(ROOT, "target/release/loadgen"))
    parser.add_argument("--messages", type=int, default=4000)
    parser.add_argument("--top", type=int, default=40)
    args = parser.parse_args()
    if os.environ.get("MESSAGING_RUNTIME") == "spin":
        sys.exit("the census is the project host's; run it without MESSAGING_RUNTIME=spin")
    os.environ["MESSAGING_LOG"] = "warn,messaging_host::kv=debug"
    os.environ["MESSAGING_HOST_ARGS"] = (os.environ.get("MESSAGING_HOST_ARGS", "") + " --json-logs").strip()
    work = tempfile.mkdtemp(prefix="store-calls-")
    host, loadgen = os.path.abspath(args.host), os.path.abspath(args.loadgen)
    for batch, title in ((0, "single requests"), (BATCH, f"{BATCH} per batch request")):
        run_gateway(loadgen, work, host, args.messages, 64, batch)
        show(title, census(os.path.join(work, f"gateway-{batch}", "host.log")), args.messages, args.top)


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""Crash under load: single SMS, one per request, killed with SIGKILL midway, restarted,
and counted. Nothing accepted may be lost; a message may reach the provider twice only
if its provider call was in flight at the kill (at-least-once, ARCHITECTURE.md).

1. The gateway (SQLite store, Africa's Talking double that counts sends per number) takes
   load: --messages single SMS over --connections connections, each to its own number.
2. Once the provider has --kill-at of them, the runtime and its children get SIGKILL; the
   load stops. The store is copied as the kill left it.
3. The runtime starts again on the same store and finishes the work (claims held at the
   kill run out after a minute, then the cell's tick takes those messages again).
4. Africa's Talking's delivery reports are played for every number the provider got, and
   the run waits until every message the store holds is at a final status.

It prints the accepted messages, what the provider got, the messages whose provider call
was in flight at the kill (at the provider, but no `sent` in the copied store), the
doubles (numbers the provider got more than once) and the messages not at a final status.
It exits non-zero if a message is lost (not final at the end) or a double was not in
flight at the kill. Timings are printed, never judged.

Usage: bench/crash.py --host target/release/messaging-host [--messages 100000]
       [--kill-at 0.3] [--connections 64] [--loadgen target/release/loadgen]
With MESSAGING_RUNTIME=spin the runtime is the Spin CLI (see common.start_host).
"""

import argparse
import collections
import hashlib
import json
import os
import shutil
import sqlite3
import subprocess
import tempfile
import threading
import time
import urllib.parse

from common import (KEY, ROOT, Receiver, africastalking_env, copy_app, free_port, host_env,
                    load, start_host)

AT_TOKEN = "bench-at-token"
FIRST_NUMBER = 254_700_000_000
FINAL = ("delivered", "failed", "expired", "cancelled", "undelivered", "suppressed")


class Provider:
    """Africa's Talking's send API, accepting everything and counting sends per number."""

    def __init__(self):
        self.sends = collections.Counter()
        self.lock = threading.Lock()
        self.receiver = Receiver(self.answer)

    def answer(self, _receiver, _path, body):
        form = urllib.parse.parse_qs(body.decode())
        numbers = [n.lstrip("+") for n in form.get("to", [""])[0].split(",") if n]
        with self.lock:
            self.sends.update(numbers)
        recipients = [{"statusCode": 101, "number": "+" + n, "status": "Success",
                       "cost": "KES 0.8000", "messageId": "ATXid_" + n} for n in numbers]
        return 201, json.dumps({"SMSMessageData": {"Message": "ok",
                                                   "Recipients": recipients}}).encode()

    def snapshot(self):
        with self.lock:
            return collections.Counter(self.sends)


def store_file(app):
    """The runtime's default key-value store and its table."""
    if os.environ.get("MESSAGING_RUNTIME") == "spin":
        return os.path.join(app, ".spin", "sqlite_key_value.db"), "spin_key_value"
    return os.path.join(app, ".messaging", "kv.db"), "kv"


def read_messages(db, table):
    """(every message id, {id: set of statuses}, {provider-mapping key: id}) of the
    default store."""
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=30)
    try:
        ids, statuses, mappings = set(), collections.defaultdict(set), {}
        rows = conn.execute(
            f"SELECT key, value FROM {table} WHERE store = 'default' "
            "AND (key LIKE 'msg/%' OR key LIKE 'pid/%')")
        for key, value in rows:
            parts = key.split("/")
            if parts[0] == "pid":
                mappings[key] = bytes(value).decode()
            elif len(parts) == 2:
                ids.add(parts[1])
            elif len(parts) == 4 and parts[2] == "status":
                statuses[parts[1]].add(parts[3])
        return ids, statuses, mappings
    finally:
        conn.close()


def copy_store(db, to):
    """Copies the store file with its journal as the kill left it."""
    for suffix in ("", "-wal", "-shm", "-journal"):
        if os.path.exists(db + suffix):
            shutil.copy(db + suffix, to + suffix)
    return to


def mapping_key(number):
    digest = hashlib.sha256(f"africastalking:ATXid_{number}".encode()).hexdigest()
    return f"pid/{digest}"


def wait_until(what, check, limit):
    """Polls `check` every 2 s until it returns true or `limit` seconds passed."""
    started = time.monotonic()
    while time.monotonic() - started < limit:
        if check():
            return time.monotonic() - started
        time.sleep(2)
    raise SystemExit(f"gave up after {limit} s waiting for {what}")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--host", required=True)
    parser.add_argument("--loadgen", default=os.path.join(ROOT, "target/release/loadgen"))
    parser.add_argument("--messages", type=int, default=100_000)
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--kill-at", type=float, default=0.3,
                        help="share of --messages at the provider when the kill comes")
    args = parser.parse_args()
    work = tempfile.mkdtemp(prefix="crash-")
    try:
        run(args, work)
    finally:
        if not os.environ.get("BENCH_KEEP"):
            shutil.rmtree(work, ignore_errors=True)
        else:
            print(f"kept {work}")


def run(args, work):
    app = os.path.join(work, "app")
    copy_app(app)
    provider = Provider()
    port = free_port()
    env = host_env({
        **africastalking_env(f"http://127.0.0.1:{provider.receiver.port}"),
        "SPIN_VARIABLE_AFRICASTALKING_WEBHOOK_TOKEN": AT_TOKEN,
        "SPIN_VARIABLE_PUBLIC_URL": f"http://127.0.0.1:{port}",
    })
    db, table = store_file(app)
    proc = start_host(os.path.abspath(args.host), app, port, env)
    message = '{"channel":"sms","to":"+{n}","body":"Your clinic appointment is tomorrow at 9"}'
    loadgen = subprocess.Popen(
        [os.path.abspath(args.loadgen), "--url", f"http://127.0.0.1:{port}/v1/messages",
         "--method", "POST", "--total", str(args.messages),
         "--connections", str(args.connections), "--first", str(FIRST_NUMBER),
         "--body", message, "--header", "content-type: application/json",
         "--header", f"authorization: Bearer {KEY}"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    started = time.monotonic()
    kill_at = int(args.messages * args.kill_at)
    try:
        wait_until("the provider to get --kill-at of the messages",
                   lambda: sum(provider.snapshot().values()) >= kill_at or
                   loadgen.poll() is not None, 3600)
    finally:
        proc.kill()
        proc.wait()
    killed_after = time.monotonic() - started
    loadgen.kill()
    loadgen.wait()
    time.sleep(0.5)
    at_kill = provider.snapshot()
    copied = copy_store(db, os.path.join(work, "at-kill.db"))
    accepted, statuses_at_kill, _ = read_messages(copied, table)
    sent_at_kill = {i for i in accepted if "sent" in statuses_at_kill[i]}
    in_flight = len(at_kill) - len(sent_at_kill)
    print(f"killed after {killed_after:.1f} s: {len(accepted):,} messages accepted, "
          f"{len(at_kill):,} numbers at the provider, {len(sent_at_kill):,} of them "
          f"recorded sent; {in_flight:,} provider calls in flight at the kill")

    proc = start_host(os.path.abspath(args.host), app, port, env)
    try:
        def all_sent():
            _, statuses, _ = read_messages(db, table)
            return all("sent" in statuses[i] for i in accepted)
        secs = wait_until("every accepted message to be sent", all_sent, 1800)
        print(f"after the restart, every accepted message was sent within {secs:.0f} s")
        numbers = sorted(int(n) for n in provider.snapshot())
        reports = load(os.path.abspath(args.loadgen),
                       f"http://127.0.0.1:{port}/webhooks/africastalking/{AT_TOKEN}/delivery",
                       args.connections, numbers[-1] - numbers[0] + 1, "POST",
                       ["content-type: application/x-www-form-urlencoded"],
                       "id=ATXid_{n}&status=Success&phoneNumber=%2B{n}&networkCode=63902",
                       numbers[0])

        def all_final():
            _, statuses, _ = read_messages(db, table)
            return all(statuses[i] & set(FINAL) for i in accepted)
        try:
            wait_until("every message to reach a final status", all_final, 300)
        except SystemExit:
            pass
    finally:
        proc.terminate()
        proc.wait()
    ids, statuses, mappings = read_messages(db, table)
    lost = [i for i in accepted if not statuses[i] & set(FINAL)]
    sends = provider.snapshot()
    doubles = {n: c for n, c in sends.items() if c > 1}
    outside = [n for n in doubles
               if mappings.get(mapping_key(n)) in sent_at_kill or mapping_key(n) not in mappings]
    print(f"delivery reports: {reports['answers'] - reports['non_2xx']:,} taken, "
          f"{reports['non_2xx']:,} refused (numbers never accepted)")
    print(f"end: {len(ids):,} messages in the store, {len(accepted) - len(lost):,} of "
          f"{len(accepted):,} accepted at a final status, {len(lost):,} lost")
    print(f"doubles: {len(doubles):,} numbers got the message more than once "
          f"({sum(doubles.values()) - len(doubles):,} extra sends); bound: {in_flight:,} "
          f"in flight at the kill; {len(outside):,} doubles were not in flight")
    if lost or outside:
        raise SystemExit("FAILED: " + ("messages lost; " if lost else "") +
                         ("a double was not in flight at the kill" if outside else ""))


if __name__ == "__main__":
    main()

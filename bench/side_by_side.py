#!/usr/bin/env python3
"""Side by side: Kannel, the classic SMS gateway, and this gateway, in one run on one
machine, the same number of single SMS through each at the same concurrency.

Kannel runs as a deployment would: bearerbox with a store file and internal DLR storage,
smsbox's sendsms interface, and Kannel's fake SMSC (`fakesmsc`), which acknowledges every
message and has bearerbox report it delivered. Each sendsms asks for the delivered report
(`dlr-mask=1`) at a local URL.

This gateway runs on the project host (release build, SQLite store) with Africa's
Talking's SMS API as its provider (bench/double, compiled, accepting everything): every message
is accepted (202), stored, handed to the SMS cell and sent. Its delivery receipts are
Africa's Talking's delivery reports, played to the gateway's webhook once the sends are
done; each becomes a signed callback to the caller's `callback_url` (a local receiver),
which is where receipts are counted. Kannel's delivery reports and this gateway's callbacks
go to the same compiled receiver (bench/double), so the harness costs both the same.

A third row sends the same messages to this gateway through `POST /v1/messages/batch`,
BATCH (200) per request, over fewer connections (a quarter of the requests at most).

Per gateway it prints:
- accepts/s and p50/p99 of the accepting request (bench/loadgen, CONNECTIONS connections);
- messages/s reaching the provider: messages the provider got / time from the first
  request until the last one reached it;
- receipts/s: receipts delivered to the local URL / time from the first receipt's cause
  (Kannel: the first request; gateway: the first report played) until the last arrived;
- CPU seconds per 1,000 messages (user + system, from /proc) of the gateway's processes
  (bearerbox, smsbox and fakesmsc; the runtime and its children) and of the doubles; for
  this gateway also split at the moment the last message reached the provider (accepting
  and delivering, then the receipts and callbacks played after it).

Usage: bench/side_by_side.py --host target/release/messaging-host [--messages 20000]
       [--loadgen target/release/loadgen]
       [--connections 64]      (`cargo xtask bench-side-by-side` builds and runs it)
Needs Kannel (kannel, kannel-extras), bench/loadgen and bench/double (release builds).
"""

import argparse
import json
import os
import shutil
import subprocess
import tempfile
import time
import urllib.parse

from common import (KEY, ROOT, Double, africastalking_env, copy_app, cpu_seconds, free_port,
                    host_env, start_host, wait_port)
from common import load as common_load
FAKESMSC = "/usr/lib/kannel/test/fakesmsc"
AT_TOKEN = "bench-at-token"
# Request n goes to +FIRST_NUMBER+n: a new Kenyan mobile number per message.
FIRST_NUMBER = 254_700_000_000
# Messages per request in the batch row.
BATCH = 200


def load(loadgen, url, connections, total, method="GET", headers=(), body="", item="", items=0):
    """`common.load`, numbering requests (or batch items) from FIRST_NUMBER (each its own
    phone number)."""
    return common_load(loadgen, url, connections, total, method, headers, body, FIRST_NUMBER,
                       item, items)


def kannel_config(d, admin, smsbox, smsc, sendsms):
    return f"""group = core
admin-port = {admin}
admin-password = admin-secret
admin-interface = 127.0.0.1
smsbox-port = {smsbox}
smsbox-interface = 127.0.0.1
box-allow-ip = 127.0.0.1
log-file = "{d}/bearerbox.log"
log-level = 2
dlr-storage = internal
store-type = file
store-location = "{d}/store"

group = smsc
smsc = fake
smsc-id = FAKE
port = {smsc}
interface-version = 34
connect-allow-ip = 127.0.0.1

group = smsbox
bearerbox-host = 127.0.0.1
bearerbox-port = {smsbox}
sendsms-port = {sendsms}
sendsms-interface = 127.0.0.1
log-file = "{d}/smsbox.log"
log-level = 2

group = sendsms-user
username = bench
password = bench-pass
max-messages = 10
default-sender = 12345
"""


def fakesmsc_count(path):
    with open(path, "rb") as f:
        return f.read().count(b"Got message")


def settle(count, started, quiet=3.0, limit=600):
    """Waits until count() stops growing for `quiet` seconds; returns (final count,
    seconds from `started` to the last growth)."""
    last_value, last_change = count(), time.monotonic()
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        time.sleep(0.05)
        value = count()
        if value != last_value:
            last_value, last_change = value, time.monotonic()
        elif time.monotonic() - last_change > quiet:
            break
    return last_value, last_change - started


def run_kannel(loadgen, work, messages, connections):
    d = os.path.join(work, "kannel")
    os.makedirs(d)
    admin, smsbox, smsc, sendsms = (free_port() for _ in range(4))
    conf = os.path.join(d, "kannel.conf")
    with open(conf, "w") as f:
        f.write(kannel_config(d, admin, smsbox, smsc, sendsms))
    receipts = Double("receiver")
    procs = [subprocess.Popen(["bearerbox", conf], stdout=subprocess.DEVNULL,
                              stderr=open(os.path.join(d, "bearerbox.out"), "w"))]
    wait_port(smsbox)
    procs.append(subprocess.Popen(["smsbox", conf], stdout=subprocess.DEVNULL,
                                  stderr=open(os.path.join(d, "smsbox.out"), "w")))
    smsc_out = os.path.join(d, "fakesmsc.out")
    procs.append(subprocess.Popen(
        [FAKESMSC, "-H", "127.0.0.1", "-r", str(smsc), "-i", "0.1", "-m", "0", "100 200 text x"],
        stdout=subprocess.DEVNULL, stderr=open(smsc_out, "w")))
    wait_port(sendsms)
    time.sleep(2)  # the fake SMSC's link comes up
    try:
        dlr = urllib.parse.quote(f"http://127.0.0.1:{receipts.port}/dlr?type=%d", safe="")
        cpu = Cpu([p.pid for p in procs], [receipts.proc.pid])
        started = time.monotonic()
        accepted = load(
            loadgen,
            f"http://127.0.0.1:{sendsms}/cgi-bin/sendsms?username=bench&password=bench-pass"
            f"&to={{n}}&text=Your+clinic+appointment+is+tomorrow+at+9&dlr-mask=1&dlr-url={dlr}",
            connections, messages)
        at_smsc, smsc_secs = settle(lambda: fakesmsc_count(smsc_out), started)
        got, receipt_secs = settle(lambda: receipts.count, started)
        return accepted, (at_smsc, smsc_secs), (got, receipt_secs), cpu.used(messages)
    finally:
        for p in reversed(procs):
            p.terminate()
        for p in procs:
            p.wait()
        receipts.stop()


def run_gateway(loadgen, work, host, messages, connections, batch=0):
    """This gateway, one message per request, or `batch` per `POST /v1/messages/batch`."""
    app = os.path.join(work, f"gateway-{batch}")
    copy_app(app)
    provider = Double("africastalking")
    callbacks = Double("receiver")
    port = free_port()
    env = host_env({
        **africastalking_env(f"http://127.0.0.1:{provider.port}"),
        "SPIN_VARIABLE_AFRICASTALKING_WEBHOOK_TOKEN": AT_TOKEN,
        "SPIN_VARIABLE_CALLBACK_HOSTS": "http://127.0.0.1:*",
        "SPIN_VARIABLE_CALLBACK_PRIVATE_NETWORKS": "true",
        "SPIN_VARIABLE_PUBLIC_URL": f"http://127.0.0.1:{port}",
    })
    proc = start_host(host, app, port, env)
    try:
        callback = f"http://127.0.0.1:{callbacks.port}/status"
        started = time.monotonic()
        message = ('{"channel":"sms","to":"+{n}","body":"Your clinic appointment is tomorrow at 9",'
                   f'"callback_url":{json.dumps(callback)}}}')
        headers = ["content-type: application/json", f"authorization: Bearer {KEY}"]
        cpu = Cpu(proc.pids(), [provider.proc.pid, callbacks.proc.pid])
        if batch:
            requests = messages // batch
            accepted = load(loadgen, f"http://127.0.0.1:{port}/v1/messages/batch",
                            min(connections, max(1, requests // 4)), requests, "POST", headers,
                            '{"messages":[{items}]}', message, batch)
            # Accepts/s counts messages, as for the other rows.
            accepted["per_s"] *= batch
        else:
            accepted = load(loadgen, f"http://127.0.0.1:{port}/v1/messages", connections,
                            messages, "POST", headers, message)
        # A cell prepares a hand-over of a page (250) before the first of them reaches the
        # provider: on a slow store that is seconds without a send, not the end.
        at_provider, provider_secs = settle(lambda: provider.count, started,
                                            quiet=15.0 if batch else 3.0)
        sending = cpu.used(messages)

        # Africa's Talking's delivery reports for every message, as its platform posts them.
        reports_started = time.monotonic()
        load(loadgen, f"http://127.0.0.1:{port}/webhooks/africastalking/{AT_TOKEN}/delivery",
             connections, messages, "POST",
             ["content-type: application/x-www-form-urlencoded"],
             "id=ATXid_{n}&status=Success&phoneNumber=%2B{n}&networkCode=63902")
        got, receipt_secs = settle(lambda: callbacks.count, reports_started)
        return (accepted, (at_provider, provider_secs), (got, receipt_secs), cpu.used(messages),
                sending[0])
    finally:
        proc.terminate()
        proc.wait()
        provider.stop()
        callbacks.stop()


class Cpu:
    """CPU seconds of a gateway's processes and of the doubles it talks to, from now on."""

    def __init__(self, gateway, doubles):
        self.gateway, self.doubles = gateway, doubles
        self.start = (cpu_seconds(gateway), cpu_seconds(doubles))

    def used(self, messages):
        """(gateway, doubles) CPU seconds per 1,000 messages since this was made."""
        per = 1000 / messages
        return ((cpu_seconds(self.gateway) - self.start[0]) * per,
                (cpu_seconds(self.doubles) - self.start[1]) * per)


def report(name, accepted, provider, receipts, cpu, sending=None):
    """`sending`: the gateway's CPU seconds per 1,000 messages until the last reached the
    provider (accepting and delivering), where the receipts came after it."""
    at_provider, provider_secs = provider
    got, receipt_secs = receipts
    split = ("" if sending is None else
             f" ({sending:.2f} s accepting and delivering, {cpu[0] - sending:.2f} s receipts and callbacks)")
    print(f"{name}: {accepted['per_s']:,.0f} accepts/s (p50 {accepted['p50_ms']:.1f} ms, "
          f"p99 {accepted['p99_ms']:.1f} ms, {accepted['non_2xx'] + accepted['errors']} refused or failed); "
          f"{at_provider:,} at the provider, {at_provider / provider_secs:,.0f}/s end to end; "
          f"{got:,} receipts, {got / receipt_secs:,.0f}/s; "
          f"CPU per 1,000 messages: {cpu[0]:.2f} s gateway{split}, {cpu[1]:.2f} s doubles")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--host", required=True)
    parser.add_argument("--loadgen", default=os.path.join(ROOT, "target/release/loadgen"))
    parser.add_argument("--messages", type=int, default=20_000)
    parser.add_argument("--connections", type=int, default=64)
    args = parser.parse_args()
    for tool in ("bearerbox", "smsbox"):
        if shutil.which(tool) is None and not os.path.exists(f"/usr/sbin/{tool}"):
            raise SystemExit(f"{tool} is missing (apt-get install kannel kannel-extras)")
    loadgen = os.path.abspath(args.loadgen)
    work = tempfile.mkdtemp(prefix="side-by-side-")
    try:
        print(f"machine: {os.cpu_count()} cores; {args.messages:,} messages, "
              f"{args.connections} connections, each gateway alone on the machine")
        report("Kannel (sendsms, store file, DLRs)", *run_kannel(loadgen, work, args.messages, args.connections))
        host = os.path.abspath(args.host)
        report("this gateway (SQLite, Africa's Talking double, callbacks)",
               *run_gateway(loadgen, work, host, args.messages, args.connections))
        report(f"this gateway, {BATCH} per POST /v1/messages/batch (p50/p99 per request)",
               *run_gateway(loadgen, work, host, args.messages, args.connections, BATCH))
    finally:
        if not os.environ.get("BENCH_KEEP"):
            shutil.rmtree(work, ignore_errors=True)
        else:
            print(f"kept {work}")


if __name__ == "__main__":
    main()

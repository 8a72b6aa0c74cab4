#!/usr/bin/env bash
# Accept-path benchmark: single messages through POST /v1/messages, 64 concurrent
# connections, on the project host with the development outbox (so every accepted message
# is also dispatched and written). Usage: bench/accept.sh HOST_BINARY [seconds] [connections]
# BENCH_STORE=redis keeps the stores on a local redis-server (appendonly, fsync each second:
# the SQLite file's durability) instead of the host's SQLite file.
set -euo pipefail
host=${1:?usage: bench/accept.sh HOST_BINARY [seconds] [connections]}
seconds=${2:-15}
connections=${3:-64}
root=$(cd "$(dirname "$0")/.." && pwd)

if ! command -v wrk >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ]; then
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q wrk >/dev/null
  else
    echo "wrk is missing: apt-get install wrk" >&2; exit 1
  fi
fi

app=$(mktemp -d)
pid= redis_pid=
trap 'kill $pid $redis_pid 2>/dev/null || true; wait $pid $redis_pid 2>/dev/null || true; rm -rf "$app"' EXIT
cp "$root/spin.toml" "$app/" && cp -r "$root/policies" "$app/" && ln -s "$root/target" "$app/target"
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

store_args=()
if [ "${BENCH_STORE:-sqlite}" = redis ]; then
  redis_port=$(free_port)
  redis-server --port "$redis_port" --bind 127.0.0.1 --dir "$app" --save "" \
    --appendonly yes --appendfsync everysec > "$app/redis.log" 2>&1 &
  redis_pid=$!
  for _ in $(seq 1 100); do
    redis-cli -p "$redis_port" ping >/dev/null 2>&1 && break
    sleep 0.1
  done
  printf '[key_value_store.default]\ntype = "redis"\nurl = "redis://127.0.0.1:%s/"\n\n[key_value_store.pending]\ntype = "redis"\nurl = "redis://127.0.0.1:%s/"\n' \
    "$redis_port" "$redis_port" > "$app/runtime-config.toml"
  store_args=(--runtime-config-file "$app/runtime-config.toml")
fi

export BENCH_KEY=bench-key-0123456789abcdef
export SPIN_VARIABLE_API_KEYS="bench:dev:$(printf %s "$BENCH_KEY" | sha256sum | cut -d' ' -f1)"
export SPIN_VARIABLE_HASHING_KEY=bench-hashing-key SPIN_VARIABLE_RECEIPT_SECRET=bench-receipt-secret \
  SPIN_VARIABLE_CALLBACK_SECRET=bench-callback-secret \
  SPIN_VARIABLE_STORAGE_KEYS=bench-storage-key-0123456789abcdef
port=$(free_port)
MESSAGING_LOG=warn "$host" --manifest "$app/spin.toml" --listen "127.0.0.1:$port" \
  --cache-dir "$root/target/component-cache" "${store_args[@]}" > "$app/host.out" 2> "$app/host.log" &
pid=$!
for _ in $(seq 1 600); do
  grep -q "listening on" "$app/host.out" 2>/dev/null && break
  sleep 0.1
done

url="http://127.0.0.1:$port/v1/messages"
echo "machine: $(nproc) cores, $(uname -m); host: $(basename "$host"); store: ${BENCH_STORE:-sqlite}; ${connections} connections, ${seconds}s"
# Warm-up, then the measured run.
wrk -t2 -c"$connections" -d3s -s "$root/bench/send.lua" "$url" >/dev/null
wrk -t2 -c"$connections" -d"${seconds}s" --latency -s "$root/bench/send.lua" "$url" | tail -n 6
sleep 2
echo "messages in outbox: $(find "$app/outbox" -name '*.json' | wc -l)"
echo "host peak RSS: $(grep VmHWM /proc/$pid/status | awk '{print $2/1024 " MiB"}')"
if [ -s "$app/host.log" ]; then
  echo "host log, most frequent lines (times and ids stripped):"
  sed -E 's/[0-9]{4}-[0-9-]+T[0-9:.]+Z//; s/msg_[0-9a-z]+/msg_…/g' "$app/host.log" | cut -c1-200 | sort | uniq -c | sort -rn | head -3
fi

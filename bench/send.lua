-- wrk script: POST one SMS per request to /v1/messages.
-- The key comes from the BENCH_KEY environment variable (set by bench/accept.sh).
-- Each request's body differs (run, thread and sequence number): identical requests within
-- the duplicate window are answered from the first (MHASH) and would send nothing.
wrk.method = "POST"
wrk.headers["content-type"] = "application/json"
wrk.headers["authorization"] = "Bearer " .. os.getenv("BENCH_KEY")

local threads = 0
setup = function(thread)
  threads = threads + 1
  thread:set("thread_id", threads)
end

-- The warm-up and the measured run are separate wrk runs, seconds apart.
local run = os.time()
local sequence = 0
request = function()
  sequence = sequence + 1
  local body = string.format(
    '{"channel":"sms","to":"+254712345678","body":"Benchmark message %d-%d-%d: your appointment is tomorrow at 9:00"}',
    run, thread_id or 0, sequence)
  return wrk.format(nil, nil, nil, body)
end

done = function(summary, latency, requests)
  local non2xx = summary.errors.status
  io.write(string.format("accepted/s: %.0f\n", summary.requests / (summary.duration / 1e6)))
  io.write(string.format("p50 ms: %.2f\np99 ms: %.2f\nmax ms: %.2f\n",
    latency:percentile(50) / 1000, latency:percentile(99) / 1000, latency.max / 1000))
  io.write(string.format("non-2xx: %d, socket errors: %d\n", non2xx,
    summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout))
end

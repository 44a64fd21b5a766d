-- wrk script for bench/gateway.py: POST one chat completion, streamed or not, and count errors.
--
-- Environment: BENCH_MODEL (model name), BENCH_KEY (bearer key), BENCH_STREAM ("1" streams).
-- A response counts as bad when its status is not 2xx, or, for streams, when its body lacks the
-- closing "data: [DONE]" (wrk times a streamed response up to its last byte, so the latency is
-- that of the full answer). done() prints one line, "WRK_JSON {...}", that gateway.py reads:
-- latencies in microseconds, wrk's own error counts, and the bad responses of all threads.

local stream = os.getenv("BENCH_STREAM") == "1"
local body = string.format(
  '{"model":"%s","messages":[{"role":"user","content":"Summarise the feed for me in three short points please"}],"max_tokens":16%s}',
  os.getenv("BENCH_MODEL") or "fake-mini",
  stream and ',"stream":true' or ""
)

wrk.method = "POST"
wrk.body = body
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer " .. (os.getenv("BENCH_KEY") or "none")

local threads = {}

function setup(thread)
  table.insert(threads, thread)
end

function init(args)
  non2xx = 0
  incomplete = 0
end

function response(status, headers, response_body)
  if status < 200 or status > 299 then
    non2xx = non2xx + 1
  elseif stream and not string.find(response_body, "data: [DONE]", 1, true) then
    incomplete = incomplete + 1
  end
end

function done(summary, latency, requests)
  local bad, unfinished = 0, 0
  for _, thread in ipairs(threads) do
    bad = bad + thread:get("non2xx")
    unfinished = unfinished + thread:get("incomplete")
  end
  local e = summary.errors
  io.write(string.format(
    'WRK_JSON {"duration_us":%d,"requests":%d,"non2xx":%d,"incomplete":%d,' ..
    '"connect":%d,"read":%d,"write":%d,"timeout":%d,' ..
    '"mean_us":%.1f,"p50_us":%d,"p90_us":%d,"p99_us":%d,"max_us":%d}\n',
    summary.duration, summary.requests, bad, unfinished,
    e.connect, e.read, e.write, e.timeout,
    latency.mean, latency:percentile(50), latency:percentile(90), latency:percentile(99),
    latency.max
  ))
end

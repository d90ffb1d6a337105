-- wrk script for bench/serve.py: GET /users/{uid}/recommendations over the uids in the file
-- UIDS_FILE (one per line), each thread from its own offset, round robin; at the end one JSON
-- line of figures (latency percentiles in microseconds) on stdout.
local uids = {}
local counter = 0

function init(args)
  for line in io.lines(os.getenv("UIDS_FILE")) do
    uids[#uids + 1] = line
  end
  counter = math.random(#uids)
end

function request()
  counter = counter % #uids + 1
  local headers = {}
  local key = os.getenv("GRAPHREC_API_KEY")
  if key ~= nil and key ~= "" then
    headers["X-API-Key"] = key
  end
  return wrk.format("GET", "/users/" .. uids[counter] .. "/recommendations?k=20", headers)
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    '{"requests": %d, "seconds": %.3f, "p50_us": %d, "p90_us": %d, "p99_us": %d, '
      .. '"max_us": %d, "non_2xx": %d, "connect_errors": %d, "read_errors": %d, '
      .. '"write_errors": %d, "timeouts": %d}\n',
    summary.requests, summary.duration / 1e6, latency:percentile(50), latency:percentile(90),
    latency:percentile(99), latency.max, e.status, e.connect, e.read, e.write, e.timeout))
end

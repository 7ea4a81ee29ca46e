-- wrk script for bench/load: requests taken in turn from a list of paths, and a summary
-- printed as one JSON line (p50/p90/p95/p99 latency, requests, bytes, errors) by done().
--
--   wrk -t2 -c100 -d30s --timeout 30s -s bench/load/mix.lua URL -- PATHS_FILE [HEADER_FILE]
--
-- With LOAD_COUNT_STATUS=1 in the environment every answer that is not 2xx is counted (the
-- response hook); without it wrk counts only 4xx/5xx and does not copy bodies into Lua (the
-- download scenarios: a 4 MB body per answer would cost wrk a core). An environment variable,
-- not an argument: wrk decides from its main Lua state, which never sees the arguments.
-- PATHS_FILE: one request path per line (search URLs with their filters, or download URLs).
-- HEADER_FILE: optional "Name: value" lines sent with every request (a bearer token, a
-- browser User-Agent). Each wrk thread starts at a different place in the list, so the 100
-- connections do not all ask for the same thing at once.

local paths = {}
local headers = {}
local position = 0
local thread_count = 0
local threads = {}
non2xx = 0        -- per thread, read back by done() through thread:get

local function read_lines(name)
  local lines = {}
  local file = assert(io.open(name, "r"), "cannot open " .. tostring(name))
  for line in file:lines() do
    if line ~= "" then lines[#lines + 1] = line end
  end
  file:close()
  return lines
end

function setup(thread)
  thread:set("id", thread_count)
  thread_count = thread_count + 1
  threads[#threads + 1] = thread
end

function init(args)
  paths = read_lines(args[1])
  if args[2] and args[2] ~= "" then
    for _, line in ipairs(read_lines(args[2])) do
      local name, value = line:match("^([^:]+):%s*(.*)$")
      headers[name] = value
    end
  end
  position = ((id or 0) * 7919) % #paths
end

function request()
  position = position % #paths + 1
  return wrk.format("GET", paths[position], headers)
end

if os.getenv("LOAD_COUNT_STATUS") == "1" then
  function response(status, headers, body)
    if status < 200 or status > 299 then non2xx = non2xx + 1 end
  end
end

function done(summary, latency, requests)
  local e = summary.errors
  local not_ok = 0
  for _, thread in ipairs(threads) do not_ok = not_ok + thread:get("non2xx") end
  io.write(string.format(
    'LOADJSON {"requests": %d, "duration_us": %d, "bytes": %d, "non2xx": %d, ' ..
    '"errors": {"connect": %d, "read": %d, "write": %d, "status": %d, "timeout": %d}, ' ..
    '"latency_us": {"p50": %d, "p90": %d, "p95": %d, "p99": %d, "max": %d, "mean": %.1f}}\n',
    summary.requests, summary.duration, summary.bytes, not_ok,
    e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(90), latency:percentile(95),
    latency:percentile(99), latency.max, latency.mean))
end

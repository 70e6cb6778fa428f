-- wrk script for jobgate's benchmarks (bench/load.py builds the arguments).
-- Walks jobId over a permutation of 1..n (id = i*step mod n + 1, step coprime to n), so each CancelJob
-- of a run hits a different job and really changes a row. The marker __JOBID__ in the path or body
-- stands for the job id, __JOBKEY__ for its key. Prints one line "BENCH-JSON {...}" with the counts and latency percentiles.
--
-- args: method path body n step [header "Name: value"]...

local MARK = "__JOBID__"
local KEYMARK = "__JOBKEY__" -- the job's key: its id as 32 zero-padded digits (bench/store.py seeds them so)
local method, path_parts, body_parts, headers
local n, step, i = 1, 1, 0

local function split(template)
  local mark, at = MARK, string.find(template, MARK, 1, true)
  if not at then
    mark, at = KEYMARK, string.find(template, KEYMARK, 1, true)
  end
  if not at then
    return { template }
  end
  return { string.sub(template, 1, at - 1), string.sub(template, at + #mark), mark == KEYMARK }
end

local function fill(parts, id)
  if #parts == 1 then
    return parts[1]
  end
  if parts[3] then
    return parts[1] .. string.format("%032d", id) .. parts[2]
  end
  return parts[1] .. id .. parts[2]
end

function init(args)
  method = args[1]
  path_parts = split(args[2])
  body_parts = split(args[3])
  n = tonumber(args[4])
  step = tonumber(args[5])
  headers = {}
  for k = 6, #args do
    local name, value = string.match(args[k], "^([^:]+):%s*(.*)$")
    headers[name] = value
  end
end

function request()
  local id = (i * step) % n + 1
  i = i + 1
  local body = fill(body_parts, id)
  if body == "" then
    body = nil
  end
  return wrk.format(method, fill(path_parts, id), headers, body)
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'BENCH-JSON {"requests":%d,"duration_us":%d,"bytes":%d,"connect":%d,"read":%d,"write":%d,' ..
    '"status":%d,"timeout":%d,"p50_us":%d,"p90_us":%d,"p99_us":%d,"max_us":%d,"mean_us":%.1f}\n',
    summary.requests, summary.duration, summary.bytes, e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max, latency.mean))
end

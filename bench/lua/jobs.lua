-- wrk script for jobgate's benchmarks (bench/load.py builds the arguments).
-- Walks jobId over a permutation of 1..n (id = i*step mod n + 1, step coprime to n), so each CancelJob
-- of a run hits a different job and really changes a row. The marker __JOBID__ in the path or body
-- stands for the job id, __JOBKEY__ in the path or body for its key (the seeded keys are the id in 32 hex
-- digits: Birst and ArcGIS name a job by its key). Prints one line "BENCH-JSON {...}" with the counts and latency percentiles.
--
-- args: method path body n step [header "Name: value"]...

local MARK = "__JOBID__"
local KEY_MARK = "__JOBKEY__"
local method, path_parts, body_parts, headers, by_key, path_by_key
local n, step, i = 1, 1, 0

local function split(template)
  local at = string.find(template, MARK, 1, true)
  if not at then
    return { template }
  end
  return { string.sub(template, 1, at - 1), string.sub(template, at + #MARK) }
end

local function fill(parts, id)
  if #parts == 1 then
    return parts[1]
  end
  return parts[1] .. id .. parts[2]
end

function init(args)
  method = args[1]
  path_by_key = string.find(args[2], KEY_MARK, 1, true) ~= nil
  path_parts = split(path_by_key and string.gsub(args[2], KEY_MARK, MARK) or args[2])
  by_key = string.find(args[3], KEY_MARK, 1, true) ~= nil
  body_parts = split(by_key and string.gsub(args[3], KEY_MARK, MARK) or args[3])
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
  local body = fill(body_parts, by_key and string.format("%032x", id) or id)
  if body == "" then
    body = nil
  end
  return wrk.format(method, fill(path_parts, path_by_key and string.format("%032x", id) or id), headers, body)
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'BENCH-JSON {"requests":%d,"duration_us":%d,"bytes":%d,"connect":%d,"read":%d,"write":%d,' ..
    '"status":%d,"timeout":%d,"p50_us":%d,"p90_us":%d,"p99_us":%d,"max_us":%d,"mean_us":%.1f}\n',
    summary.requests, summary.duration, summary.bytes, e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max, latency.mean))
end

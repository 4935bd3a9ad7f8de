-- One wrk script for every scenario: the request comes from BENCH_SCENARIO (see
-- bench/scenarios.py for the same draws in Python); each thread counts responses by status
-- class and 503s without Retry-After, and done() prints one JSON line for the runner.

local scenario = os.getenv("BENCH_SCENARIO")
local products = tonumber(os.getenv("BENCH_PRODUCTS"))
local hot_product = tonumber(os.getenv("BENCH_HOT_PRODUCT"))
local accounts = tonumber(os.getenv("BENCH_ACCOUNTS"))
local threads = {}

function setup(thread)
   thread:set("id", #threads + 1)
   table.insert(threads, thread)
end

function init(args)
   math.randomseed(os.time() * 1000 + id)
   counts = {s2xx = 0, s3xx = 0, s4xx = 0, s409 = 0, s5xx = 0, s503 = 0, s503_no_retry_after = 0}
   wrk.headers["Content-Type"] = "application/json"
end

function request()
   if scenario == "live" then
      return wrk.format("GET", "/health/live")
   elseif scenario == "read" then
      return wrk.format("GET", "/products/" .. math.random(1, products))
   elseif scenario == "reserve_spread" or scenario == "reserve_hot" then
      local product = hot_product
      if scenario == "reserve_spread" then product = math.random(1, products) end
      return wrk.format("POST", "/products/" .. product .. "/reservations", nil, '{"quantity":1}')
   elseif scenario == "transfer" then
      local source = math.random(1, accounts)
      local target = 1 + (source + math.random(0, accounts - 2)) % accounts
      local body = string.format('{"source_id":%d,"target_id":%d,"amount":1}', source, target)
      return wrk.format("POST", "/transfers", nil, body)
   else
      return wrk.format("GET", "/bench/slow")
   end
end

function response(status, headers, body)
   local class = math.floor(status / 100)
   if class == 2 then counts.s2xx = counts.s2xx + 1
   elseif class == 3 then counts.s3xx = counts.s3xx + 1
   elseif class == 4 then
      counts.s4xx = counts.s4xx + 1
      if status == 409 then counts.s409 = counts.s409 + 1 end
   else
      counts.s5xx = counts.s5xx + 1
      if status == 503 then
         counts.s503 = counts.s503 + 1
         if headers["retry-after"] == nil and headers["Retry-After"] == nil then
            counts.s503_no_retry_after = counts.s503_no_retry_after + 1
         end
      end
   end
end

function done(summary, latency, requests)
   local total = {s2xx = 0, s3xx = 0, s4xx = 0, s409 = 0, s5xx = 0, s503 = 0, s503_no_retry_after = 0}
   for _, thread in ipairs(threads) do
      local counted = thread:get("counts")
      for key, value in pairs(counted) do total[key] = total[key] + value end
   end
   local parts = {}
   for key, value in pairs(total) do table.insert(parts, string.format('"%s":%d', key, value)) end
   local errors = summary.errors
   io.write(string.format(
      'BENCH_JSON {"requests":%d,"duration_us":%d,"p50_us":%d,"p90_us":%d,"p99_us":%d,' ..
      '"max_us":%d,"socket_errors":{"connect":%d,"read":%d,"write":%d,"timeout":%d},' ..
      '"non_2xx_3xx":%d,"counts":{%s}}\n',
      summary.requests, summary.duration, latency:percentile(50), latency:percentile(90),
      latency:percentile(99), latency.max, errors.connect, errors.read, errors.write,
      errors.timeout, errors.status, table.concat(parts, ",")))
end

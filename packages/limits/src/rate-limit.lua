-- One ingest request against its limits, atomically, in one round trip.
-- KEYS[1] token buckets of the key (hash: r = request tokens, e = event tokens, t = ms)
-- KEYS[2] events the client stored today (counter)
-- KEYS[3] quota warnings already given today (hash: 80, 100)
-- ARGV: requests/s, request burst, events/s, event burst, events/day, events in this request, day ttl (ms),
--   peek (1: only report the state, take and record nothing)
-- Returns: verdict (0 ok, 1 requests, 2 events, 3 quota), request tokens left, event tokens left,
--   events today, retry after (ms), warnings crossed (bit 1: 80%, bit 2: 100%),
--   ms until the request bucket is full, ms until the event bucket is full
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
local rr, rb = tonumber(ARGV[1]), tonumber(ARGV[2])
local er, eb = tonumber(ARGV[3]), tonumber(ARGV[4])
local quota, n, dayTtl = tonumber(ARGV[5]), tonumber(ARGV[6]), tonumber(ARGV[7])
local peek = ARGV[8] == '1'

local b = redis.call('HMGET', KEYS[1], 'r', 'e', 't')
local last = tonumber(b[3]) or now
local dt = math.max(0, now - last)
local r = math.min(rb, (tonumber(b[1]) or rb) + dt * rr / 1000)
local e = math.min(eb, (tonumber(b[2]) or eb) + dt * er / 1000)
local used = tonumber(redis.call('GET', KEYS[2]) or '0')

-- a request larger than the burst passes on a full bucket and leaves a debt
local need = math.min(n, eb)
local verdict, retry = 0, 0
if peek then
  return { 0, math.floor(r), math.floor(e), used, 0, 0, math.ceil((rb - r) * 1000 / rr), math.ceil((eb - e) * 1000 / er) }
end
if r < 1 then
  verdict, retry = 1, math.ceil((1 - r) * 1000 / rr)
elseif e < need then
  verdict, retry = 2, math.ceil((need - e) * 1000 / er)
elseif n > 0 and used + n > quota then
  verdict, retry = 3, -1
else
  r = r - 1
  e = e - n
  if n > 0 then
    used = redis.call('INCRBY', KEYS[2], n)
    if used == n then redis.call('PEXPIRE', KEYS[2], dayTtl) end
  end
end
redis.call('HSET', KEYS[1], 'r', r, 'e', e, 't', now)
redis.call('PEXPIRE', KEYS[1], math.ceil(math.max(rb / rr, (eb - math.min(e, 0)) / er) * 1000) + 1000)

local warned = 0
if used >= quota * 0.8 and redis.call('HSETNX', KEYS[3], '80', used) == 1 then warned = warned + 1 end
if (used >= quota or verdict == 3) and redis.call('HSETNX', KEYS[3], '100', used) == 1 then warned = warned + 2 end
if warned > 0 then redis.call('PEXPIRE', KEYS[3], dayTtl) end

return { verdict, math.floor(r), math.floor(e), used, retry, warned,
  math.ceil((rb - r) * 1000 / rr), math.ceil((eb - e) * 1000 / er) }

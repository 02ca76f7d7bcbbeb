-- Ingest requests against their limits, atomically, in one round trip: the
-- requests gathered in one turn of an ingest process's event loop, in order.
-- For request i (from 0): KEYS[3i+1] token buckets of its key (hash: r = request
-- tokens, e = event tokens, t = ms), KEYS[3i+2] events its client stored today
-- (counter), KEYS[3i+3] quota warnings already given today (hash: 80, 100);
-- ARGV[8i+1..8i+8]: requests/s, request burst, events/s, event burst, events/day,
-- events in the request, day ttl (ms), peek (1: only report the state, take and record nothing).
-- Returns for each request 8 numbers: verdict (0 ok, 1 requests, 2 events, 3 quota),
-- request tokens left, event tokens left, events today, retry after (ms, -1: next day),
-- warnings crossed (bit 1: 80%, bit 2: 100%), ms until the request bucket is full,
-- ms until the event bucket is full.
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
local out = {}

local function one(kb, kd, kw, a)
  local rr, rb = tonumber(ARGV[a + 1]), tonumber(ARGV[a + 2])
  local er, eb = tonumber(ARGV[a + 3]), tonumber(ARGV[a + 4])
  local quota, n, dayTtl = tonumber(ARGV[a + 5]), tonumber(ARGV[a + 6]), tonumber(ARGV[a + 7])
  local peek = ARGV[a + 8] == '1'

  local b = redis.call('HMGET', kb, 'r', 'e', 't')
  local last = tonumber(b[3]) or now
  local dt = math.max(0, now - last)
  local r = math.min(rb, (tonumber(b[1]) or rb) + dt * rr / 1000)
  local e = math.min(eb, (tonumber(b[2]) or eb) + dt * er / 1000)
  local used = tonumber(redis.call('GET', kd) or '0')
  local refill = function() return math.ceil((rb - r) * 1000 / rr), math.ceil((eb - e) * 1000 / er) end
  if peek then
    local rf, ef = refill()
    return { 0, math.floor(r), math.floor(e), used, 0, 0, rf, ef }
  end

  -- a request larger than the burst passes on a full bucket and leaves a debt
  local need = math.min(n, eb)
  local verdict, retry = 0, 0
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
      used = redis.call('INCRBY', kd, n)
      if used == n then redis.call('PEXPIRE', kd, dayTtl) end
    end
  end
  redis.call('HSET', kb, 'r', r, 'e', e, 't', now)
  redis.call('PEXPIRE', kb, math.ceil(math.max(rb / rr, (eb - math.min(e, 0)) / er) * 1000) + 1000)

  local warned = 0
  if used >= quota * 0.8 and redis.call('HSETNX', kw, '80', used) == 1 then warned = warned + 1 end
  if (used >= quota or verdict == 3) and redis.call('HSETNX', kw, '100', used) == 1 then warned = warned + 2 end
  if warned > 0 then redis.call('PEXPIRE', kw, dayTtl) end
  local rf, ef = refill()
  return { verdict, math.floor(r), math.floor(e), used, retry, warned, rf, ef }
end

for i = 0, #KEYS / 3 - 1 do
  local res = one(KEYS[3 * i + 1], KEYS[3 * i + 2], KEYS[3 * i + 3], 8 * i)
  for j = 1, 8 do out[8 * i + j] = res[j] end
end
return out

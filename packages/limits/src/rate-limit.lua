-- Ingest requests against their limits, atomically, in one round trip: the
-- requests gathered in one turn of an ingest process's event loop, grouped by
-- API key (and peek), each group's requests in arrival order. A group reads
-- and writes its key's bucket once, however many requests it holds.
-- For group g (from 0): KEYS[3g+1] token buckets of its key (hash: r = request
-- tokens, e = event tokens, t = ms), KEYS[3g+2] events its client stored today
-- (counter), KEYS[3g+3] quota warnings already given today (hash: 80, 100).
-- ARGV, group after group: requests/s, request burst, events/s, event burst,
-- events/day, day ttl (ms), peek (1: only report the state, take and record
-- nothing), the number of requests c, then c event counts.
-- Returns for each request, in ARGV order, 8 numbers: verdict (0 ok,
-- 1 requests, 2 events, 3 quota), request tokens left, event tokens left,
-- events today, retry after (ms, -1: next day), warnings crossed (bit 1: 80%,
-- bit 2: 100%), ms until the request bucket is full, ms until the event bucket
-- is full.
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
local out = {}
local o = 0

-- appends one request's 8 numbers to the answer (no table per request)
local function answer(verdict, r, e, used, retry, warned, rf, ef)
  out[o + 1], out[o + 2], out[o + 3], out[o + 4] = verdict, r, e, used
  out[o + 5], out[o + 6], out[o + 7], out[o + 8] = retry, warned, rf, ef
  o = o + 8
end

local function group(kb, kd, kw, a)
  local rr, rb = tonumber(ARGV[a + 1]), tonumber(ARGV[a + 2])
  local er, eb = tonumber(ARGV[a + 3]), tonumber(ARGV[a + 4])
  local quota, dayTtl = tonumber(ARGV[a + 5]), tonumber(ARGV[a + 6])
  local peek = ARGV[a + 7] == '1'
  local count = tonumber(ARGV[a + 8])

  local b = redis.call('HMGET', kb, 'r', 'e', 't')
  local last = tonumber(b[3]) or now
  local dt = math.max(0, now - last)
  local r = math.min(rb, (tonumber(b[1]) or rb) + dt * rr / 1000)
  local e = math.min(eb, (tonumber(b[2]) or eb) + dt * er / 1000)
  local used = tonumber(redis.call('GET', kd) or '0')
  local taken = 0
  local warnedAt = { false, false }

  for i = 1, count do
    local n = tonumber(ARGV[a + 8 + i])
    if peek then
      answer(0, math.floor(r), math.floor(e), used, 0, 0, math.ceil((rb - r) * 1000 / rr), math.ceil((eb - e) * 1000 / er))
    else
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
        used = used + n
        taken = taken + n
      end
      local warned = 0
      if used >= quota * 0.8 and not warnedAt[1] then
        warnedAt[1] = true
        if redis.call('HSETNX', kw, '80', used) == 1 then warned = warned + 1 end
      end
      if (used >= quota or verdict == 3) and not warnedAt[2] then
        warnedAt[2] = true
        if redis.call('HSETNX', kw, '100', used) == 1 then warned = warned + 2 end
      end
      if warned > 0 then redis.call('PEXPIRE', kw, dayTtl) end
      answer(verdict, math.floor(r), math.floor(e), used, retry, warned, math.ceil((rb - r) * 1000 / rr), math.ceil((eb - e) * 1000 / er))
    end
  end

  if not peek then
    if taken > 0 then
      local total = redis.call('INCRBY', kd, taken)
      if total == taken then redis.call('PEXPIRE', kd, dayTtl) end
    end
    redis.call('HSET', kb, 'r', r, 'e', e, 't', now)
    redis.call('PEXPIRE', kb, math.ceil(math.max(rb / rr, (eb - math.min(e, 0)) / er) * 1000) + 1000)
  end
  return a + 8 + count
end

local a = 0
for g = 0, #KEYS / 3 - 1 do
  a = group(KEYS[3 * g + 1], KEYS[3 * g + 2], KEYS[3 * g + 3], a)
end
return out

-- Ingest requests against their limits, atomically, in one round trip: the
-- requests gathered in one turn of an ingest process's event loop, grouped by
-- API key (and peek), each group's requests in arrival order. A group reads
-- and writes its key's bucket and its client's bucket once, however many
-- requests it holds (groups run one after the other, so two keys of one
-- client in one call see each other's takings).
-- For group g (from 0): KEYS[4g+1] token buckets of its key (hash: r = request
-- tokens, e = event tokens, t = ms), KEYS[4g+2] buckets of its client (hash:
-- e = event tokens of the tenant-wide limit, f = fair-share tokens, t = ms),
-- KEYS[4g+3] events its client stored today (counter), KEYS[4g+4] quota
-- warnings already given today (hash: 80, 100).
-- ARGV, group after group: requests/s, request burst, events/s, event burst,
-- tenant events/s, tenant event burst, fair-share events/s, fair-share burst,
-- events/day, day ttl (ms), peek (1: only report the state, take and record
-- nothing), bulk closed (1: the bulk lane is full, refuse what would go
-- there), the lease given back (request tokens, event tokens, fair-share
-- tokens: what a process leased and did not spend), the lease wanted (request
-- tokens, event tokens), the number of requests c, then c event counts.
-- Returns for each request, in ARGV order, 11 numbers: verdict (0 ok,
-- 1 requests, 2 events, 3 quota, 4 tenant events, 5 bulk lane full), request
-- tokens left, event tokens left, events today, retry after (ms, -1: next
-- day), warnings crossed (bit 1: 80%, bit 2: 100%), ms until the request
-- bucket is full, ms until the event bucket is full, tenant event tokens left,
-- ms until the tenant bucket is full, lane (0 fast, 1 bulk); after each
-- group's requests, 3 numbers: the lease granted (request tokens, event
-- tokens, fair-share tokens among those events).
-- Leases: after its requests, a group takes the lease it asks for, as far as
-- every bucket holds it: requests from the key's request bucket, events from
-- the key's and the client's event buckets and from the day's quota at once,
-- and fair-share tokens (at most the events) as far as the client has them;
-- never up to the next quota warning's threshold (80%, 100%), so the request
-- that reaches one is decided, and warns, here.
-- Leased tokens are taken like spent ones, so no process can spend more than
-- the buckets hold; what a process gives back is added again (at most to the
-- burst; the quota's events are taken off the day's counter).
-- Fair share: a request whose events fit in its client's fair-share bucket
-- takes them from it and goes to the fast lane; one that does not takes
-- nothing from it and goes to the bulk lane (or, while that is full, is
-- refused). It is derived from rates alone, so it never drifts.
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
local out = {}
local o = 0
local N = 11

-- appends one request's numbers to the answer (no table per request)
local function answer(verdict, r, e, used, retry, warned, rf, ef, te, tf, lane)
  out[o + 1], out[o + 2], out[o + 3], out[o + 4] = verdict, r, e, used
  out[o + 5], out[o + 6], out[o + 7], out[o + 8] = retry, warned, rf, ef
  out[o + 9], out[o + 10], out[o + 11] = te, tf, lane
  o = o + N
end

local function refill(value, burst, rate, dt)
  return math.min(burst, (tonumber(value) or burst) + dt * rate / 1000)
end

local function group(kb, kt, kd, kw, a)
  local rr, rb = tonumber(ARGV[a + 1]), tonumber(ARGV[a + 2])
  local er, eb = tonumber(ARGV[a + 3]), tonumber(ARGV[a + 4])
  local ter, teb = tonumber(ARGV[a + 5]), tonumber(ARGV[a + 6])
  local fr, fb = tonumber(ARGV[a + 7]), tonumber(ARGV[a + 8])
  local quota, dayTtl = tonumber(ARGV[a + 9]), tonumber(ARGV[a + 10])
  local peek = ARGV[a + 11] == '1'
  local bulkClosed = ARGV[a + 12] == '1'
  local gr, ge, gf = tonumber(ARGV[a + 13]), tonumber(ARGV[a + 14]), tonumber(ARGV[a + 15])
  local wr, we = tonumber(ARGV[a + 16]), tonumber(ARGV[a + 17])
  local count = tonumber(ARGV[a + 18])
  local A = a + 18

  local b = redis.call('HMGET', kb, 'r', 'e', 't')
  local dt = math.max(0, now - (tonumber(b[3]) or now))
  local r = refill(b[1], rb, rr, dt)
  local e = refill(b[2], eb, er, dt)
  local tb = redis.call('HMGET', kt, 'e', 'f', 't')
  local tdt = math.max(0, now - (tonumber(tb[3]) or now))
  local te = refill(tb[1], teb, ter, tdt)
  local f = refill(tb[2], fb, fr, tdt)
  local used = tonumber(redis.call('GET', kd) or '0')
  local taken = 0
  if ge > 0 or gr > 0 then
    -- a lease given back: its tokens are the buckets' again, its events no longer count against today
    r, e, te, f = math.min(rb, r + gr), math.min(eb, e + ge), math.min(teb, te + ge), math.min(fb, f + gf)
    used = math.max(0, used - ge)
    taken = -ge
  end
  local warnedAt = { false, false }

  for i = 1, count do
    local n = tonumber(ARGV[A + i])
    local lane = 0
    if peek then
      answer(0, math.floor(r), math.floor(e), used, 0, 0, math.ceil((rb - r) * 1000 / rr), math.ceil((eb - e) * 1000 / er),
        math.floor(te), math.ceil((teb - te) * 1000 / ter), 0)
    else
      -- a request larger than a burst passes on a full bucket and leaves a debt
      local need, tneed, fneed = math.min(n, eb), math.min(n, teb), math.min(n, fb)
      local verdict, retry = 0, 0
      if r < 1 then
        verdict, retry = 1, math.ceil((1 - r) * 1000 / rr)
      elseif e < need then
        verdict, retry = 2, math.ceil((need - e) * 1000 / er)
      elseif te < tneed then
        verdict, retry = 4, math.ceil((tneed - te) * 1000 / ter)
      elseif n > 0 and used + n > quota then
        verdict, retry = 3, -1
      elseif n > 0 and f < fneed then
        lane = 1
        -- the bulk lane is full: back once the client's rate is within its fair share again
        if bulkClosed then verdict, retry = 5, math.ceil((fneed - f) * 1000 / fr) end
      end
      if verdict == 0 then
        r = r - 1
        e = e - n
        te = te - n
        if lane == 0 then f = f - n end
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
      answer(verdict, math.floor(r), math.floor(e), used, retry, warned, math.ceil((rb - r) * 1000 / rr), math.ceil((eb - e) * 1000 / er),
        math.floor(te), math.ceil((teb - te) * 1000 / ter), lane)
    end
  end

  local lr, le, lf = 0, 0, 0
  if not peek and wr > 0 then
    lr = math.min(wr, math.floor(r))
    -- no lease reaches a quota warning's threshold: the request that crosses it is decided here, and warns
    local t80 = math.ceil(quota * 0.8)
    local room = (used < t80 and t80 or quota) - 1 - used
    le = math.max(0, math.min(we, math.floor(e), math.floor(te), room))
    if lr >= 1 then
      lf = math.max(0, math.min(le, math.floor(f)))
      r, e, te, f = r - lr, e - le, te - le, f - lf
      used = used + le
      taken = taken + le
    else
      lr, le = 0, 0
    end
  end
  out[o + 1], out[o + 2], out[o + 3] = lr, le, lf
  o = o + 3

  if not peek then
    if taken ~= 0 then
      local total = redis.call('INCRBY', kd, taken)
      if total <= 0 then
        -- a lease given back after the day's counter expired: nothing to take it from
        redis.call('SET', kd, 0, 'PX', dayTtl)
      elseif total == taken then
        redis.call('PEXPIRE', kd, dayTtl)
      end
    end
    redis.call('HSET', kb, 'r', r, 'e', e, 't', now)
    redis.call('PEXPIRE', kb, math.ceil(math.max(rb / rr, (eb - math.min(e, 0)) / er) * 1000) + 1000)
    redis.call('HSET', kt, 'e', te, 'f', f, 't', now)
    redis.call('PEXPIRE', kt, math.ceil(math.max((teb - math.min(te, 0)) / ter, (fb - math.min(f, 0)) / fr) * 1000) + 1000)
  end
  return A + count
end

local a = 0
for g = 0, #KEYS / 4 - 1 do
  a = group(KEYS[4 * g + 1], KEYS[4 * g + 2], KEYS[4 * g + 3], KEYS[4 * g + 4], a)
end
return out

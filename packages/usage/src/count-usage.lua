-- Adds one flush of usage counts, atomically (a reader's HGETALL sees all of
-- it or none). KEYS: the hour hashes; ARGV[1]: their ttl (s); then, for each
-- key in order: the number of fields n, and n field/amount pairs.
local a = 2
for i = 1, #KEYS do
  local n = tonumber(ARGV[a])
  a = a + 1
  for _ = 1, n do
    redis.call('HINCRBY', KEYS[i], ARGV[a], ARGV[a + 1])
    a = a + 2
  end
  redis.call('EXPIRE', KEYS[i], ARGV[1])
end
return #KEYS

import { defineScript } from '../internal/Script.js';

/**
 * The cluster-wide token bucket, in one atomic script so that no two instances can take the
 * same token.
 *
 * KEYS[1]  the bucket: the string "<tokens> <anchor>" (anchor = the grid point of the last
 *          refill, in Redis ms to the microsecond), written with one SET ... PX: one string
 *          read and one write per take costs Redis less than a hash plus a separate PEXPIRE
 * ARGV     rate, hz (ms), tokenLimit, n (1 = take a token, 0 = look, -1 = give one back)
 * Returns  { granted (0|1), tokens left, ms until the next refill (0 when tokens are left) }
 *
 * Why this shape:
 * - Time is Redis `TIME`, read inside the script, so hosts with skewed clocks still agree.
 *   (Redis >= 5 replicates scripts by effects, so a non-deterministic read is allowed.)
 * - Refill is lazy: `periods = floor((now - anchor) / hz)` whole periods have passed, they add
 *   `periods * rate` tokens, and the anchor moves by exactly `periods * hz`, so refills stay on
 *   the grid `anchor + k * hz` however irregularly the script runs: no drift, no timer.
 * - A full bucket is the same as no key at all, so a full bucket is deleted and a partial one
 *   expires at the moment it would be full again: the key exists only while it matters. (The
 *   grid restarts at the first take after the bucket was full; that only delays refills.)
 * - If Redis's clock steps backwards, the anchor is pulled back to now instead of freezing
 *   refills until the clock catches up.
 */
export const TOKEN_BUCKET_SCRIPT = defineScript(
  'valve token bucket',
  `
local rate = tonumber(ARGV[1])
local hz = tonumber(ARGV[2])
local limit = tonumber(ARGV[3])
local n = tonumber(ARGV[4])
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + tonumber(t[2]) / 1000
local state = redis.call('GET', KEYS[1])
local tokens = nil
local anchor = nil
if state then
  local sp = string.find(state, ' ', 1, true)
  if sp then
    tokens = tonumber(string.sub(state, 1, sp - 1))
    anchor = tonumber(string.sub(state, sp + 1))
  end
end
if tokens == nil or anchor == nil then
  tokens = limit
  anchor = now
else
  if now < anchor then anchor = now end
  local periods = math.floor((now - anchor) / hz)
  if periods > 0 then
    tokens = tokens + periods * rate
    anchor = anchor + periods * hz
  end
  if tokens > limit then tokens = limit end
end
local granted = 0
if n > 0 then
  if tokens >= n then
    tokens = tokens - n
    granted = 1
  end
elseif n < 0 then
  tokens = math.min(limit, tokens - n)
  granted = 1
end
if tokens >= limit then
  redis.call('DEL', KEYS[1])
elseif n ~= 0 then
  local full = anchor + math.ceil((limit - tokens) / rate) * hz
  redis.call('SET', KEYS[1], string.format('%.0f %.3f', tokens, anchor), 'PX', math.ceil(full - now) + 1)
end
local wait = 0
if tokens < 1 then wait = math.max(1, math.ceil(anchor + hz - now)) end
return { granted, tokens, wait }
`,
);

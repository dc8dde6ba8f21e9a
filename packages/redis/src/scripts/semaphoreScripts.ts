import { defineScript } from '../internal/Script.js';

/*
 * The cluster-wide semaphore: a sorted set of leases, member = lease id, score = the lease's
 * expiry in Redis ms (Redis `TIME`, read inside each script, so hosts' clocks never matter).
 * A lease that is not renewed expires, and the next acquire purges it: that is how a crashed or
 * partitioned holder's permit comes back. The key expires with its longest lease (PEXPIREAT the
 * highest score), so an abandoned semaphore leaves nothing behind.
 */

const NOW = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
`;

const EXPIRE_WITH_LAST_LEASE = `
local last = redis.call('ZRANGE', KEYS[1], -1, -1, 'WITHSCORES')
if last[2] then redis.call('PEXPIREAT', KEYS[1], tonumber(last[2]) + 1) end
`;

/**
 * KEYS[1] the lease set. ARGV: limit, leaseMs, lease id.
 * Purges expired leases, then adds ours if fewer than `limit` remain.
 * Returns { acquired (0|1), leases held, ms until the earliest lease expires (0 if acquired) }.
 */
export const ACQUIRE_SCRIPT = defineScript(
  'valve semaphore acquire',
  `${NOW}
local limit = tonumber(ARGV[1])
local leaseMs = tonumber(ARGV[2])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
local held = redis.call('ZCARD', KEYS[1])
if held < limit then
  redis.call('ZADD', KEYS[1], now + leaseMs, ARGV[3])
  ${EXPIRE_WITH_LAST_LEASE}
  return { 1, held + 1, 0 }
end
local first = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
return { 0, held, math.max(1, tonumber(first[2]) - now) }
`,
);

/**
 * KEYS[1] the lease set. ARGV: leaseMs, lease ids...
 * Extends each live lease to now + leaseMs. A lease that is gone or already expired is NOT
 * revived (its slot may have been counted free): it is removed and returned as lost.
 * Returns the lost lease ids.
 */
export const RENEW_SCRIPT = defineScript(
  'valve semaphore renew',
  `${NOW}
local leaseMs = tonumber(ARGV[1])
local lost = {}
for i = 2, #ARGV do
  local score = tonumber(redis.call('ZSCORE', KEYS[1], ARGV[i]))
  if score ~= nil and score > now then
    redis.call('ZADD', KEYS[1], 'XX', now + leaseMs, ARGV[i])
  else
    if score ~= nil then redis.call('ZREM', KEYS[1], ARGV[i]) end
    lost[#lost + 1] = ARGV[i]
  end
end
${EXPIRE_WITH_LAST_LEASE}
return lost
`,
);

/**
 * KEYS[1] the lease set. ARGV: lease id, release channel.
 * Removes the lease; if it was there, deletes an emptied set and publishes on the channel so
 * waiting instances try again at once. Returns 1 if the lease was held, else 0.
 */
export const RELEASE_SCRIPT = defineScript(
  'valve semaphore release',
  `
local removed = redis.call('ZREM', KEYS[1], ARGV[1])
if removed == 1 then
  if redis.call('ZCARD', KEYS[1]) == 0 then redis.call('DEL', KEYS[1]) end
  redis.call('PUBLISH', ARGV[2], '1')
end
return removed
`,
);

/** KEYS[1] the lease set. Returns the number of unexpired leases (cluster-wide permits held). */
export const COUNT_SCRIPT = defineScript(
  'valve semaphore count',
  `${NOW}
return redis.call('ZCOUNT', KEYS[1], '(' .. now, '+inf')
`,
);

import { defineScript } from '../internal/Script.js';

/*
 * Cross-instance coalescing for one key: a short lock (SET NX PX) names the one instance that
 * runs the fetcher; it stores the encoded result for lingerMs and publishes it; the others wait
 * for the message. Both steps are scripts so that "look for a stored result, else take the lock"
 * and "store, unlock, announce" are each one atomic step: a follower that subscribed before its
 * claim either sees the stored result, gets the lock (the leader already finished), or receives
 * the announcement. No interleaving loses a result.
 */

/**
 * KEYS[1] the stored result, KEYS[2] the lock. ARGV: lock token, lockMs.
 * Returns { 'hit', payload } | { 'lead' } | { 'wait' }.
 */
export const CLAIM_SCRIPT = defineScript(
  'valve coalesce claim',
  `
local v = redis.call('GET', KEYS[1])
if v then return { 'hit', v } end
if redis.call('SET', KEYS[2], ARGV[1], 'NX', 'PX', ARGV[2]) then return { 'lead' } end
return { 'wait' }
`,
);

/**
 * KEYS[1] the stored result, KEYS[2] the lock. ARGV: lock token, lingerMs, channel, message,
 * payload ('' for a failure, which is announced but never stored).
 * Stores a success for lingerMs, releases the lock only if it is still ours (a leader slower
 * than lockMs must not unlock its successor), and publishes the message.
 */
export const PUBLISH_SCRIPT = defineScript(
  'valve coalesce publish',
  `
if ARGV[5] ~= '' and tonumber(ARGV[2]) > 0 then
  redis.call('SET', KEYS[1], ARGV[5], 'PX', ARGV[2])
end
if redis.call('GET', KEYS[2]) == ARGV[1] then redis.call('DEL', KEYS[2]) end
redis.call('PUBLISH', ARGV[3], ARGV[4])
return 1
`,
);

/**
 * KEYS[1] the stored result (unused, named so both scripts touch the same slot), KEYS[2] the
 * lock. ARGV: lock token, channel, message (a failure announcement).
 * Sent after a claim whose reply timed out: if that claim took the lock after all, nobody will
 * run the fetcher under it, so unlock and announce a failure (followers fetch themselves at once
 * instead of after `waitTimeoutMs`). Does nothing when the lock is not ours.
 */
export const ABANDON_SCRIPT = defineScript(
  'valve coalesce abandon',
  `
if redis.call('GET', KEYS[2]) ~= ARGV[1] then return 0 end
redis.call('DEL', KEYS[2])
redis.call('PUBLISH', ARGV[2], ARGV[3])
return 1
`,
);

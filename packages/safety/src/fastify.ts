/**
 * Fastify glue (`@valve/safety/fastify`): a plugin that admits every request of the context it
 * is registered in through a SafetyValve, and the same as an `onRequest` hook for single routes.
 *
 * Encapsulation: the plugin is marked `skip-override` (what `fastify-plugin` does, written out so
 * that the package depends on nothing but @valve/core), so its hook lands in the context that
 * called `register`: registered on the root it guards every route; registered inside a plugin it
 * guards that plugin's routes and its children's, never a sibling's. Only types are imported from
 * fastify: loading this entry loads no framework code.
 */
import type { FastifyPluginCallback, onRequestHookHandler } from 'fastify';
import type { SafetyValve } from './SafetyValve.js';
import {
  ADAPTER_OPTIONS,
  type AdapterOptions,
  checkAdapterOptions,
  overloadAnswer,
  rateLimitFields,
} from './internal/answer.js';
import { clientGone } from './internal/clientGone.js';
import type { SafetyPermit } from './options.js';

export type { AdapterOptions, OverloadBody } from './internal/answer.js';

/** Options of {@link fastifySafetyValve}. */
export interface FastifySafetyValveOptions extends AdapterOptions {
  /** The valve every request of this context passes. Required. */
  valve: SafetyValve;
}

/**
 * An `onRequest` hook: each request waits in `valve` for a token and a slot and holds the slot
 * until its response finished or the connection closed; a refusal is answered with 503,
 * `Retry-After` and `{"error":"overloaded","reason":...,"retryAfterSeconds":...}`; a client that
 * leaves while queued leaves the queue. Other errors (an async source failing) go to Fastify's
 * error handler. For one route: `app.get('/x', { onRequest: safetyValveHook(valve) }, handler)`.
 */
export function safetyValveHook(valve: SafetyValve, options?: AdapterOptions): onRequestHookHandler {
  const rateLimit = checkAdapterOptions(valve, options);
  return async function safetyValveOnRequest(request, reply) {
    const ac = clientGone(request.raw, reply.raw);
    let permit: SafetyPermit;
    try {
      permit = await valve.ask({ signal: ac.signal });
    } catch (error) {
      if (ac.signal.aborted) {
        // The client left while queued: there is nobody to answer, and the route must not run.
        reply.hijack();
        return reply;
      }
      const answer = overloadAnswer(valve, error, rateLimit);
      if (answer === undefined) throw error;
      reply.code(answer.status);
      for (const [name, value] of answer.headers) reply.header(name, value);
      return reply.send(answer.body);
    }
    const release = () => permit.done();
    if (ac.signal.aborted) {
      release();
      reply.hijack();
      return reply;
    }
    reply.raw.once('finish', release);
    reply.raw.once('close', release);
    if (rateLimit) for (const [name, value] of rateLimitFields(valve)) reply.header(name, value);
  };
}

// Fastify hands the plugin the options of `register` too (`prefix`, `logLevel`, ...).
const FASTIFY_OPTIONS: readonly string[] = Object.freeze([
  ...ADAPTER_OPTIONS,
  'valve',
  'prefix',
  'logLevel',
  'logSerializers',
]);

function plugin(
  instance: Parameters<FastifyPluginCallback<FastifySafetyValveOptions>>[0],
  options: FastifySafetyValveOptions,
  done: (error?: Error) => void,
): void {
  let hook: onRequestHookHandler;
  try {
    checkAdapterOptions(options?.valve, options, FASTIFY_OPTIONS);
    hook = safetyValveHook(options.valve, { rateLimitHeaders: options.rateLimitHeaders ?? false });
  } catch (error) {
    done(error as Error);
    return;
  }
  instance.addHook('onRequest', hook);
  done();
}

/**
 * The plugin: `app.register(fastifySafetyValve, { valve, rateLimitHeaders? })` guards the routes
 * of the registering context (see the file comment). Bad options fail the registration (`ready()`
 * and `listen()` reject with the TypeError).
 */
export const fastifySafetyValve: FastifyPluginCallback<FastifySafetyValveOptions> = Object.assign(plugin, {
  [Symbol.for('skip-override')]: true,
  [Symbol.for('fastify.display-name')]: '@valve/safety',
  [Symbol.for('plugin-meta')]: { name: '@valve/safety', fastify: '5.x' },
});

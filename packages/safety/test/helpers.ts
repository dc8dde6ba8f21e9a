import { deferred } from '@valve/testkit';

/** A job whose completion the test controls, recording when it started. */
export function gated<T = string>(log: string[], name: string, value?: T) {
  const gate = deferred<T>();
  let started = false;
  return {
    gate,
    get started() {
      return started;
    },
    fn: () => {
      started = true;
      log.push(name);
      return gate.promise;
    },
    finish: () => gate.resolve((value ?? name) as T),
  };
}

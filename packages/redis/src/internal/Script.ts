import { createHash } from 'node:crypto';

/** A Lua script and its SHA1, so it can run by `EVALSHA` and fall back to `EVAL` once per server. */
export interface Script {
  readonly name: string;
  readonly source: string;
  readonly sha: string;
}

export function defineScript(name: string, source: string): Script {
  return Object.freeze({ name, source, sha: createHash('sha1').update(source).digest('hex') });
}

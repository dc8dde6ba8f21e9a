// A real full GC without restarting vitest with --expose-gc: the flag applies to new contexts.
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

/** Heap in use after a full GC. */
export function heapAfterGc(): number {
  gc();
  return process.memoryUsage().heapUsed;
}

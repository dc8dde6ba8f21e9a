// The builds a before/after script compares, in one process: the earlier ones from
// VALVE_BASES="name=dir;name=dir" (default before=$VALVE_BASE or /work/wt/base; each dir holds
// the packages' dist built at that commit) and this checkout's as `after`.
import { fileURLToPath } from 'node:url';

/** This checkout's root, with a trailing slash. */
export const HERE = fileURLToPath(new URL('../../', import.meta.url));

/** `{ name: await load(dir) }` for every build, `after` last. */
export async function loadBuilds(load) {
  const bases = (process.env.VALVE_BASES ?? `before=${process.env.VALVE_BASE ?? '/work/wt/base'}`)
    .split(';')
    .filter(Boolean)
    .map((entry) => entry.split('='));
  const builds = {};
  for (const [name, dir] of [...bases, ['after', HERE.replace(/\/$/, '')]]) builds[name] = await load(dir);
  return builds;
}

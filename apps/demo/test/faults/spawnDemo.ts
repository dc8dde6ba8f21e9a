/**
 * The fault tests' handle on a real demo process: `node dist/server.js` (what supervisors run)
 * spawned in its own process group with the given environment, its URL read from the listening
 * line. Every wait is bounded; `killAll()` (afterEach) SIGKILLs whatever a failed test left.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const SERVER = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'dist', 'server.js');

export interface DemoProcess {
  child: ChildProcess;
  url: string;
  output(): string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

const running = new Set<ChildProcess>();

export async function spawnDemo(env: Record<string, string>, startTimeoutMs = 60_000): Promise<DemoProcess> {
  const child = spawn(process.execPath, [SERVER], {
    env: { ...process.env, PORT: '0', SEED_CUSTOMERS: '50', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
  });
  running.add(child);
  let out = '';
  child.stdout!.on('data', (d: Buffer) => {
    out += d.toString();
  });
  child.stderr!.on('data', (d: Buffer) => {
    out += d.toString();
  });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once('exit', (code, signal) => {
      running.delete(child);
      resolve({ code, signal });
    }),
  );
  const deadline = Date.now() + startTimeoutMs;
  for (;;) {
    const match = /listening on (http:\/\/\S+)/.exec(out);
    if (match) return { child, url: match[1]!, output: () => out, exited };
    if (child.exitCode !== null || child.signalCode !== null) throw new Error(`the demo exited at start:\n${out}`);
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`the demo did not listen within ${startTimeoutMs} ms:\n${out}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

/** SIGKILLs every demo process a test started and has not seen exit. */
export function killAll(): void {
  for (const child of running) {
    try {
      if (child.pid !== undefined) process.kill(-child.pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
  running.clear();
}

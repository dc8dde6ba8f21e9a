/**
 * Issue 16, item 4: what a supervisor, `docker stop`, `kill` or Ctrl-C sends must reach the
 * server, and the documented commands must exit 0 after a clean shutdown with no process left.
 *
 * Runs the real commands as child processes, each in its own process group: `pnpm demo` from the
 * repository root (it builds through turbo, cached after `pnpm build`, then execs node) and
 * `node apps/demo/dist/server.js` (the command the README gives supervisors). SIGTERM goes to the
 * command's own pid (what a supervisor signals); Ctrl-C is SIGINT to the whole process group (what
 * a terminal sends). Then the group must be empty. Every wait is bounded.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { groupAlive } from './helpers.js';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
const SERVER = join(ROOT, 'apps', 'demo', 'dist', 'server.js');

interface Started {
  child: ChildProcess;
  url: string;
  serverPid: number;
  output: () => string;
  exit: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

const started: Started[] = [];

afterEach(() => {
  // A failed test must not leave its processes running: kill what is left of each group.
  for (const s of started.splice(0)) if (s.child.pid !== undefined && groupAlive(s.child.pid)) killGroup(s.child.pid);
});

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function killGroup(pgid: number): void {
  try {
    process.kill(-pgid, 'SIGKILL');
  } catch {
    // already gone
  }
}

async function start(command: string, args: string[]): Promise<Started> {
  const child = spawn(command, args, {
    cwd: ROOT,
    // Port 0: the server picks a free port and prints it. A small seed keeps start-up short.
    env: { ...process.env, HOST: '127.0.0.1', PORT: '0', SEED_CUSTOMERS: '50', DATABASE_URL: '', REDIS_URL: '' },
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
  });
  let output = '';
  let wake = () => {};
  const append = (chunk: Buffer) => {
    output = (output + chunk.toString()).slice(-20_000);
    wake();
  };
  child.stdout?.on('data', append);
  child.stderr?.on('data', append);
  const exit = once(child, 'exit').then(([code, signal]) => ({
    code: code as number | null,
    signal: signal as NodeJS.Signals | null,
  }));
  const s: Started = { child, url: '', serverPid: 0, output: () => output, exit };
  started.push(s);
  const deadline = Date.now() + 90_000;
  for (;;) {
    const m = /listening on (http:\/\/\S+) .*pid (\d+)\)/.exec(output);
    if (m) {
      s.url = m[1] as string;
      s.serverPid = Number(m[2]);
      return s;
    }
    if (child.exitCode !== null || child.signalCode !== null) throw new Error(`exited during start-up:\n${output}`);
    if (Date.now() > deadline) throw new Error(`did not start within 90 s:\n${output}`);
    // Woken by output or exit; the timer only bounds the wait.
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, 1000);
      wake = () => {
        clearTimeout(timer);
        resolve();
      };
      void exit.then(wake);
    });
  }
}

async function stopsCleanly(s: Started, send: () => void): Promise<void> {
  expect((await fetch(`${s.url}/healthz`)).status).toBe(200);
  send();
  const timer = setTimeout(() => s.child.pid !== undefined && killGroup(s.child.pid), 60_000);
  const { code, signal } = await s.exit;
  clearTimeout(timer);
  expect({ code, signal }, s.output()).toEqual({ code: 0, signal: null });
  expect(s.output()).toContain('shut down cleanly');
  expect(s.output()).not.toContain('ERR_PNPM');
  // The server process is gone, and so is every other process of the command's group.
  expect(pidAlive(s.serverPid)).toBe(false);
  expect(groupAlive(s.child.pid as number)).toBe(false);
  await expect(fetch(`${s.url}/healthz`)).rejects.toThrow();
}

describe('pnpm demo (the README set-up command)', () => {
  it('SIGTERM to pnpm reaches the server: exit 0 after a clean shutdown, no process left', async () => {
    const s = await start('pnpm', ['demo']);
    // pnpm's child is node itself (the script execs it), not a shell or a second pnpm.
    expect(s.serverPid).not.toBe(s.child.pid);
    await stopsCleanly(s, () => s.child.kill('SIGTERM'));
  });

  it('Ctrl-C (SIGINT to the process group, so the server gets it twice) exits 0, no process left', async () => {
    const s = await start('pnpm', ['demo']);
    await stopsCleanly(s, () => process.kill(-(s.child.pid as number), 'SIGINT'));
  });
});

describe('node apps/demo/dist/server.js (the command for supervisors)', () => {
  it('SIGTERM: exit 0 after a clean shutdown, no process left', async () => {
    const s = await start(process.execPath, [SERVER]);
    expect(s.serverPid).toBe(s.child.pid);
    await stopsCleanly(s, () => s.child.kill('SIGTERM'));
  });

  it('SIGINT: exit 0 after a clean shutdown', async () => {
    const s = await start(process.execPath, [SERVER]);
    await stopsCleanly(s, () => s.child.kill('SIGINT'));
  });
});

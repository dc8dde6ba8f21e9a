/**
 * Starts the demo server as a child process for the load tests and stops it again.
 *
 * The child gets its own process group (`detached: true`), and is stopped by signalling that
 * group (`kill(-pid)`): SIGTERM first (the demo drains accepted work), SIGKILL only if it has not
 * exited within the grace period. Only this process group is ever signalled. It listens on
 * 127.0.0.1 and a port chosen free here.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { createServer } from 'node:net';

export const LOOPBACK = '127.0.0.1';

export async function freePort(): Promise<number> {
  const server = createServer();
  server.listen(0, LOOPBACK);
  await once(server, 'listening');
  const address = server.address();
  const port = typeof address === 'object' && address !== null ? address.port : 0;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

export interface DemoProcess {
  readonly url: string;
  /** Everything the demo printed (for error reports). */
  readonly output: () => string;
  stop(): Promise<void>;
}

export interface StartOptions {
  serverPath: string;
  env: Record<string, string>;
  /** Bound on start-up (PGlite takes about 4 s, seeding a server more). @default 120_000 */
  startTimeoutMs?: number;
}

export async function startDemo(options: StartOptions): Promise<DemoProcess> {
  const port = await freePort();
  const url = `http://${LOOPBACK}:${port}`;
  const child = spawn(process.execPath, [options.serverPath], {
    env: { ...process.env, ...options.env, HOST: LOOPBACK, PORT: String(port) },
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
  });
  let output = '';
  const append = (chunk: Buffer) => {
    output = (output + chunk.toString()).slice(-20_000);
  };
  child.stdout?.on('data', append);
  child.stderr?.on('data', append);
  let exited = false;
  const exit = once(child, 'exit').then(() => {
    exited = true;
  });

  const stop = async (): Promise<void> => {
    if (exited) return;
    signalGroup(child, 'SIGTERM');
    const timer = setTimeout(() => signalGroup(child, 'SIGKILL'), 30_000);
    await exit;
    clearTimeout(timer);
  };

  const deadline = Date.now() + (options.startTimeoutMs ?? 120_000);
  while (Date.now() < deadline) {
    if (exited) throw new Error(`the demo exited during start-up:\n${output}`);
    try {
      const res = await fetch(`${url}/healthz`, { signal: AbortSignal.timeout(1000) });
      if (res.ok) return { url, output: () => output, stop };
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  await stop();
  throw new Error(`the demo did not answer /healthz within ${options.startTimeoutMs ?? 120_000} ms:\n${output}`);
}

function signalGroup(child: ChildProcess, signal: NodeJS.Signals): void {
  if (child.pid === undefined) return;
  try {
    process.kill(-child.pid, signal);
  } catch {
    // already gone
  }
}

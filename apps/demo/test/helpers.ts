import { type DemoConfig, loadConfig } from '../src/config.js';

/** A config for tests: port 0, a small seed, the given overrides on top of the defaults. */
export function testConfig(env: Record<string, string> = {}): DemoConfig {
  return loadConfig({ PORT: '0', SEED_CUSTOMERS: '200', SHUTDOWN_TIMEOUT_MS: '5000', ...env });
}

/** A table prefix no other test run uses at the same time (shared MariaDB/PostgreSQL servers). */
export function uniquePrefix(what: string): string {
  return `valve_demo_${what}_${process.pid}_${Date.now().toString(36)}_`;
}

// biome-ignore lint/suspicious/noExplicitAny: parsed JSON of any shape; each test asserts on it
type Json = any;

export async function getJson(
  url: string,
  init?: RequestInit,
): Promise<{ status: number; body: Json; headers: Headers }> {
  const res = await fetch(url, { ...init, signal: AbortSignal.timeout(10_000) });
  const text = await res.text();
  let body: unknown = text;
  try {
    body = JSON.parse(text);
  } catch {}
  return { status: res.status, body, headers: res.headers };
}

export function postJson(url: string, body: string, contentType = 'application/json') {
  return getJson(url, { method: 'POST', body, headers: { 'content-type': contentType } });
}

/** Whether any process of group `pgid` is alive (a child spawned with `detached: true`). */
export function groupAlive(pgid: number): boolean {
  try {
    process.kill(-pgid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

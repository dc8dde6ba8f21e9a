/**
 * Issue 18, items 6 and 7: nothing capped `/dashboard/stream` (2,000 clients took RSS from 431
 * to ~650 MB and /healthz up to 4 s), a body shorter than its Content-Length held a connection
 * for 10 s and more (Node's requestTimeout is 300 s, checked every 30 s), and oversize headers got
 * Node's bare, non-JSON 431. Now: DASHBOARD_MAX_STREAMS (503 beyond it), a page that stops reading
 * is disconnected, REQUEST_TIMEOUT_MS / HEADERS_TIMEOUT_MS answer a JSON 408, and a JSON 431.
 */
import { connect } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RunningDemo, startDemo } from '../../src/app.js';
import { SnapshotStream } from '../../src/dashboard/SnapshotStream.js';
import { getJson, testConfig } from '../helpers.js';

let demo: RunningDemo;

beforeAll(async () => {
  demo = await startDemo(
    testConfig({ REQUEST_TIMEOUT_MS: '300', HEADERS_TIMEOUT_MS: '300', DASHBOARD_MAX_STREAMS: '2' }),
    { log: () => {} },
  );
});

afterAll(async () => {
  await demo?.close();
});

/** Writes `request` on a raw connection and resolves with everything the server sent before closing (bounded). */
function raw(request: string, withinMs = 10_000): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect(demo.port, '127.0.0.1');
    let got = '';
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`no answer within ${withinMs} ms; got ${JSON.stringify(got)}`));
    }, withinMs);
    socket.on('data', (d) => {
      got += d.toString();
    });
    socket.on('error', () => {});
    socket.on('close', () => {
      clearTimeout(timer);
      resolve(got);
    });
    socket.write(request);
  });
}

function bodyOf(response: string): unknown {
  return JSON.parse(response.slice(response.indexOf('\r\n\r\n') + 4));
}

describe('issue 18: slow bodies, big headers', () => {
  it('a body shorter than its Content-Length gets a JSON 408 once REQUEST_TIMEOUT_MS passes', async () => {
    const answer = await raw(
      'POST /events HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{"type":',
    );
    expect(answer).toMatch(/^HTTP\/1\.1 408 /);
    expect(answer).toMatch(/content-type: application\/json/i);
    expect(bodyOf(answer)).toMatchObject({ error: { code: 'request_timeout' } });
  });

  it('headers that never end get the same 408 (HEADERS_TIMEOUT_MS)', async () => {
    const answer = await raw('GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: 1\r\n');
    expect(answer).toMatch(/^HTTP\/1\.1 408 /);
  });

  it('oversize headers get a JSON 431', async () => {
    const answer = await raw(`GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(20_000)}\r\n\r\n`);
    expect(answer).toMatch(/^HTTP\/1\.1 431 /);
    expect(bodyOf(answer)).toMatchObject({ error: { code: 'headers_too_large' } });
  });
});

describe('issue 18: dashboard stream clients are capped', () => {
  it('the stream beyond DASHBOARD_MAX_STREAMS gets a 503; a freed place can be taken again', async () => {
    const controllers = [new AbortController(), new AbortController()];
    const open = await Promise.all(controllers.map((c) => fetch(`${demo.url}/dashboard/stream`, { signal: c.signal })));
    expect(open.map((r) => r.status)).toEqual([200, 200]);
    const third = await getJson(`${demo.url}/dashboard/stream`);
    expect(third.status).toBe(503);
    expect(third.body).toMatchObject({ error: 'overloaded', reason: 'queue_full', maxStreams: 2 });
    controllers[0]!.abort();
    await open[0]!.body?.cancel().catch(() => {});
    // The server sees the close on its own time: bounded wait for the place to free up.
    let again = 503;
    for (let i = 0; i < 100 && again !== 200; i++) {
      const c = new AbortController();
      const r = await fetch(`${demo.url}/dashboard/stream`, { signal: c.signal });
      again = r.status;
      c.abort();
      await r.body?.cancel().catch(() => {});
      if (again !== 200) await new Promise((resolve) => setTimeout(resolve, 20));
    }
    expect(again).toBe(200);
    controllers[1]!.abort();
  });

  it('a page that stops reading is disconnected after dropAfterMisses frames', async () => {
    const stream = new SnapshotStream(() => ({ x: 1 }), 5, 10, 3);
    let destroyed = false;
    const listeners: (() => void)[] = [];
    const res = {
      writableNeedDrain: false,
      status: () => res,
      setHeader: () => {},
      flushHeaders: () => {},
      write: () => true,
      once: (_e: string, f: () => void) => listeners.push(f),
      destroy: () => {
        destroyed = true;
        for (const f of listeners) f();
      },
    };
    stream.add({} as never, res as never);
    expect(stream.size).toBe(1);
    res.writableNeedDrain = true; // the page stopped reading
    for (let i = 0; i < 200 && !destroyed; i++) await new Promise((resolve) => setTimeout(resolve, 5));
    expect(destroyed).toBe(true);
    expect(stream.size).toBe(0);
    stream.closeAll();
  });
});

/**
 * Issue 18, item 1 (critical): a 10 KB `POST /events` whose payload nests 5,000 arrays was
 * acknowledged (202); its flushes failed (`JSON.stringify` overflows the stack), and 5-10 s later
 * the dead-letter log line's own `JSON.stringify` threw the same RangeError out of `onDeadLetter`,
 * uncaught: the process died with every buffered event. Now a body nested deeper than
 * `BODY_MAX_DEPTH` (32) is a 400 at the door, on both event routes, and the dead-letter log line
 * cannot throw.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RunningDemo, startDemo } from '../../src/app.js';
import { jsonDepth } from '../../src/jsonDepth.js';
import { previewJson } from '../../src/previewJson.js';
import { postJson, testConfig } from '../helpers.js';

/** `{"type":"t","payload":[[…]]}` with `depth` levels in total (the event object is level 1). */
function deepEvent(depth: number): string {
  const levels = depth - 1;
  return `{"type":"deep","payload":${'['.repeat(levels)}${']'.repeat(levels)}}`;
}

let demo: RunningDemo;
const lines: string[] = [];

beforeAll(async () => {
  demo = await startDemo(testConfig(), { log: (line) => lines.push(line) });
});

afterAll(async () => {
  await demo?.close();
});

describe('issue 18: deeply nested bodies are refused at the door', () => {
  it.each(['/events', '/direct/events'])(
    'POST %s with 5,000 nested arrays (10 KB) is a 400 body_too_deep',
    async (route) => {
      const body = deepEvent(5000);
      expect(body.length).toBeLessThan(demo.config.bodyLimitBytes);
      const { status, body: answer } = await postJson(`${demo.url}${route}`, body);
      expect(status).toBe(400);
      expect(answer).toEqual({
        error: {
          code: 'body_too_deep',
          message: 'request body nests arrays/objects deeper than the limit of 32 levels (BODY_MAX_DEPTH)',
        },
      });
      expect(demo.valves.events.stats().accepted).toBe(0);
    },
  );

  it('a body exactly at the limit is accepted and stored; one level more is refused', async () => {
    const ok = await postJson(`${demo.url}/direct/events?insert=multi`, deepEvent(32));
    expect(ok.status).toBe(201);
    const refused = await postJson(`${demo.url}/events`, deepEvent(33));
    expect(refused.status).toBe(400);
    // An array of events counts its own level.
    const array = await postJson(`${demo.url}/events`, `[${deepEvent(32)}]`);
    expect(array.status).toBe(400);
  });

  it('the server is still up and nothing was logged as failed', async () => {
    const { status } = await postJson(`${demo.url}/events`, '{"type":"after"}');
    expect(status).toBe(202);
    expect(lines.filter((l) => /request failed|could not be inserted/.test(l))).toEqual([]);
  });
});

describe('the helpers behind it', () => {
  it('jsonDepth measures any depth without recursion and stops past the limit', () => {
    expect(jsonDepth(1, 5)).toBe(0);
    expect(jsonDepth({ a: [1, { b: [] }] }, 5)).toBe(4);
    let deep: unknown = [];
    for (let i = 0; i < 1_000_000; i++) deep = [deep];
    expect(jsonDepth(deep, 32)).toBe(33);
    expect(jsonDepth(deep, 2_000_000)).toBe(1_000_001);
  });

  it('previewJson never throws: too deep, cyclic and BigInt values get a placeholder; long text is cut', () => {
    let deep: unknown = [];
    for (let i = 0; i < 100_000; i++) deep = [deep];
    expect(previewJson(deep)).toBe('(not serializable: Maximum call stack size exceeded)');
    const cyclic: Record<string, unknown> = {};
    cyclic.self = cyclic;
    expect(previewJson(cyclic)).toMatch(/^\(not serializable: Converting circular structure/);
    expect(previewJson(10n)).toMatch(/^\(not serializable: Do not know how to serialize a BigInt/);
    expect(previewJson('x'.repeat(300), 10)).toBe(`"xxxxxxxxx… (302 chars)`);
  });
});

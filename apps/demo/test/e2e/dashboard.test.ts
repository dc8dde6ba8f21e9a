/**
 * The live dashboard end to end: the demo on the embedded PGlite (small seed, port 0), the page
 * in Debian's headless Chromium driven by playwright-core (which never downloads a browser), a
 * load scenario started from the page, and checks that the charts receive data and the numbers
 * move. Saves test-artifacts/dashboard.png. Then the control API's bad inputs, and a graceful
 * close of the demo while the page's event stream is still open.
 *
 * Without Chromium (CHROMIUM_PATH, default /usr/bin/chromium) the browser part skips with a loud
 * message; with VALVE_REQUIRE_SERVICES=1 (set by .ci/run) it fails instead. Real-time waits are
 * all bounded (waitForFunction timeouts), as issue 10 allows for browser tests.
 */
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type BrowserContext, chromium, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RunningDemo, startDemo } from '../../src/app.js';
import { getJson, testConfig } from '../helpers.js';

/** The page globals the page functions below use (this test compiles without the DOM lib). */
declare const document: {
  getElementById(id: string): { dataset: Record<string, string | undefined>; textContent: string | null } | null;
  body: { dataset: Record<string, string | undefined> };
};

const ARTIFACTS = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'test-artifacts');

/** Like @valve/testkit's requireService, for a browser binary instead of a server URL. */
function requireChromium(): string | undefined {
  const path = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
  if (existsSync(path)) return path;
  const message =
    `Chromium not found at ${path} (CHROMIUM_PATH): skipping the dashboard browser test ` +
    `(install Debian's chromium package or set CHROMIUM_PATH)`;
  if (process.env.VALVE_REQUIRE_SERVICES === '1') throw new Error(`VALVE_REQUIRE_SERVICES=1 but ${message}`);
  console.warn(`\n!!! ${message}\n`);
  return undefined;
}

const chromiumPath = requireChromium();

let demo: RunningDemo | undefined;
let browser: BrowserContext | undefined;
let userDataDir: string | undefined;
const lines: string[] = [];

beforeAll(async () => {
  // A long shutdown grace, so a stream that kept the server open would show as a slow close.
  demo = await startDemo(testConfig({ SHUTDOWN_TIMEOUT_MS: '30000' }), { log: (line) => lines.push(line) });
});

afterAll(async () => {
  await browser?.close();
  await demo?.close();
  if (userDataDir) rmSync(userDataDir, { recursive: true, force: true });
});

const num = async (page: Page, id: string) =>
  Number((await page.textContent(`#num-${id}`))?.replace(/[^0-9.]/g, '') || Number.NaN);

describe.skipIf(chromiumPath === undefined)('dashboard in headless Chromium', () => {
  it('starts a scenario from the page; the charts receive data and the numbers move', async () => {
    userDataDir = mkdtempSync(join(tmpdir(), 'valve-dashboard-chromium-'));
    // A fresh --user-data-dir: playwright-core takes it as launchPersistentContext's first argument.
    browser = await chromium.launchPersistentContext(userDataDir, {
      executablePath: chromiumPath,
      headless: true,
      args: [
        '--headless',
        '--no-sandbox',
        '--disable-gpu',
        '--disable-quic',
        '--no-first-run',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
      ],
      viewport: { width: 1440, height: 900 },
      timeout: 20_000,
    });
    const page = await browser.newPage();
    const pageErrors: string[] = [];
    page.on('pageerror', (e) => pageErrors.push(e.message));
    page.on('console', (m) => {
      if (m.type() === 'error') pageErrors.push(m.text());
    });

    await page.goto(`${demo!.url}/dashboard`, { timeout: 10_000 });
    await page.waitForFunction(() => document.getElementById('connection')?.dataset.state === 'live', null, {
      timeout: 10_000,
    });

    // Drive the controls with the keyboard-usable form, as a visitor would.
    await page.selectOption('#scenario', 'hot');
    await page.fill('#rate', '150');
    await page.fill('#duration', '20');
    await page.click('#start');
    await page.waitForFunction(() => document.getElementById('load-message')?.dataset.kind === 'running', null, {
      timeout: 5_000,
    });

    // Charts receive data: the HTTP and BurstValve charts accumulate points with positive rates.
    await page.waitForFunction(
      () => {
        const points = (id: string) => Number(document.getElementById(`chart-${id}`)?.dataset.points ?? 0);
        const value = (id: string) =>
          Number((document.getElementById(`num-${id}`)?.textContent ?? '').replace(/[^0-9.]/g, ''));
        return points('http-rps') >= 6 && points('burst-rate') >= 6 && value('http-rps') > 0 && value('burst-rps') > 0;
      },
      null,
      { timeout: 15_000, polling: 100 },
    );
    // uPlot drew into a canvas for each of them.
    expect(await page.locator('#chart-http-rps canvas').count()).toBeGreaterThan(0);
    expect(await page.locator('#chart-burst-rate canvas').count()).toBeGreaterThan(0);
    expect(await page.getAttribute('#chart-http-latency', 'data-state')).toBe('data');

    // The numbers move: the generator's sent count and the frame counter grow between two reads.
    const sent1 = await num(page, 'load-sent');
    const frames1 = Number(await page.getAttribute('body', 'data-frames'));
    await page.waitForFunction(
      ([s, f]) =>
        Number((document.getElementById('num-load-sent')?.textContent ?? '').replace(/[^0-9.]/g, '')) > s &&
        Number(document.body.dataset.frames) >= f + 4,
      [sent1, frames1] as const,
      { timeout: 5_000, polling: 100 },
    );
    expect(await num(page, 'load-ok')).toBeGreaterThan(0);
    // The demo registers valve_demo_db_queries_total and the PromisePool's valve_pool_* families
    // (every request's background work): their charts have data.
    for (const id of ['db-qps', 'pool-queue', 'pool-rate']) {
      expect(await page.getAttribute(`#chart-${id}`, 'data-state'), id).toBe('data');
    }

    mkdirSync(ARTIFACTS, { recursive: true });
    await page.screenshot({ path: join(ARTIFACTS, 'dashboard.png'), fullPage: true });

    // Stop from the page; the generator reports idle.
    await page.click('#stop');
    await page
      .waitForFunction(() => document.getElementById('num-load-state')?.textContent?.startsWith('idle'), null, {
        timeout: 10_000,
      })
      .catch(async (error: unknown) => {
        const seen = await page.textContent('#num-load-state');
        const said = await page.textContent('#load-message');
        throw new Error(
          `the page did not show the run stopped (state ${JSON.stringify(seen)}, message ${JSON.stringify(said)})`,
          {
            cause: error,
          },
        );
      });
    const status = await getJson(`${demo!.url}/dashboard/load`);
    expect(status.body).toMatchObject({ running: false, ended: 'stopped' });
    expect(status.body.sent).toBeGreaterThan(0);
    expect(pageErrors).toEqual([]);
  });
});

describe('dashboard control API', () => {
  const post = (body: string, contentType = 'application/json') =>
    getJson(`${demo!.url}/dashboard/load`, { method: 'POST', body, headers: { 'content-type': contentType } });

  it.each([
    ['{"scenario":"nope","rate":10,"durationS":5}', /^scenario must be one of hot, /],
    ['{"scenario":"hot","rate":0,"durationS":5}', /^rate must be an integer from 1 to 5000/],
    ['{"scenario":"hot","rate":5001,"durationS":5}', /^rate must be an integer from 1 to 5000/],
    ['{"scenario":"hot","rate":1.5,"durationS":5}', /^rate must be an integer/],
    ['{"scenario":"hot","rate":"10","durationS":5}', /^rate must be an integer/],
    ['{"scenario":"hot","rate":10,"durationS":0}', /^durationS must be an integer from 1 to 300/],
    ['{"scenario":"hot","rate":10,"durationS":301}', /^durationS must be an integer from 1 to 300/],
    ['{"scenario":"hot","rate":10}', /^durationS must be an integer/],
    ['{"scenario":"hot","rate":10,"durationS":5,"target":"http://example.com"}', /^unknown field "target"/],
    ['[1,2]', /^the body must be a JSON object/],
  ])('POST %s is a 400 invalid_load', async (body, message) => {
    const res = await post(body);
    expect(res.status).toBe(400);
    expect(res.body.error.code).toBe('invalid_load');
    expect(res.body.error.message).toMatch(message);
  });

  it('answers 415 for a body that is not JSON, 400 for malformed JSON', async () => {
    expect((await post('scenario=hot', 'application/x-www-form-urlencoded')).status).toBe(415);
    const malformed = await post('{"scenario":');
    expect(malformed.status).toBe(400);
    expect(malformed.body.error.code).toBe('malformed_json');
  });

  it('runs one scenario at a time (409), stops on DELETE, and DELETE is idempotent', async () => {
    const started = await post('{"scenario":"events","rate":20,"durationS":30}');
    expect(started.status).toBe(202);
    expect(started.body).toMatchObject({ running: true, plan: { scenario: 'events', rate: 20, durationS: 30 } });
    const again = await post('{"scenario":"hot","rate":20,"durationS":5}');
    expect(again.status).toBe(409);
    expect(again.body.error.code).toBe('load_running');
    const stopped = await getJson(`${demo!.url}/dashboard/load`, { method: 'DELETE' });
    expect(stopped.body).toMatchObject({ stopped: true, status: { running: false, ended: 'stopped' } });
    const twice = await getJson(`${demo!.url}/dashboard/load`, { method: 'DELETE' });
    expect(twice.body).toMatchObject({ stopped: false });
  });

  it('serves only its listed assets', async () => {
    expect((await getJson(`${demo!.url}/dashboard/assets/uPlot.iife.min.js`)).status).toBe(200);
    expect((await getJson(`${demo!.url}/dashboard/assets/..%2Fpackage.json`)).status).toBe(404);
    expect((await getJson(`${demo!.url}/dashboard/assets/index.html`)).status).toBe(404);
  });

  it('closes gracefully while a load run and an event stream are open', async () => {
    const started = await post('{"scenario":"zipf","rate":100,"durationS":60}');
    expect(started.status).toBe(202);
    const stream = await fetch(`${demo!.url}/dashboard/stream`);
    expect(stream.headers.get('content-type')).toMatch(/^text\/event-stream/);
    const reader = stream.body!.getReader();
    const first = new TextDecoder().decode((await reader.read()).value);
    expect(first).toMatch(/^retry: 2000/);
    // The shutdown grace is 30 s: an SSE stream or a generator that held the server open would
    // exceed this bound (real time, bounded).
    let timer: NodeJS.Timeout | undefined;
    const closed = await Promise.race([
      demo!.close().then(() => 'closed'),
      new Promise((resolve) => {
        timer = setTimeout(resolve, 10_000, 'still open after 10 s');
      }),
    ]);
    clearTimeout(timer);
    expect(closed).toBe('closed');
    // The stream ended (done) rather than being cut mid-frame.
    let done = false;
    for (let i = 0; i < 100 && !done; i++) done = (await reader.read()).done;
    expect(done).toBe(true);
  });
});

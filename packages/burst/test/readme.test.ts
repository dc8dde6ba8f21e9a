// The README's examples, run as tests (Go's ExampleGroup habit). Keep them in sync with README.md.
import { ManualClock } from '@valve/core';
import { deferred, flush } from '@valve/testkit';
import { describe, expect, it } from 'vitest';
import { BurstValve, coalesce } from '../src/index.js';

describe('README', () => {
  it('quick start', async () => {
    const db = { queries: 0, find: async (id: string) => ({ id, name: `user ${id}`, q: ++db.queries }) };
    // --- README quick start ---
    const users = new BurstValve<{ id: string; name: string }, string>({
      displayName: 'users',
      fetch: (id, { signal }) => (signal.aborted ? Promise.reject(signal.reason) : db.find(id)),
      lingerMs: 50, // also serve the value for 50 ms after it settles
    });
    const [a, b] = await Promise.all([users.fetch('42'), users.fetch('42')]);
    // one query, two callers
    // --- end ---
    expect(a).toBe(b);
    expect(db.queries).toBe(1);
  });

  it("the seed's Express example (handler logic, without express)", async () => {
    // A stand-in for mysql2's pool: every query waits on a gate, so the test controls timing.
    const gate = deferred();
    let queries = 0;
    const pool = {
      query: async (_sql: string, [id]: string[]): Promise<[{ id: string; name: string }[]]> => {
        queries++;
        await gate.promise;
        return [id === 'missing' ? [] : [{ id: id!, name: `customer ${id}` }]];
      },
    };
    // --- README: Express example ---
    const valve = new BurstValve<{ id: string; name: string }, string>(async (id) => {
      const [rows] = await pool.query('SELECT id, name FROM customers WHERE id = ?', [id]);
      if (rows.length === 0) throw Object.assign(new Error(`customer ${id} not found`), { status: 404 });
      return rows[0]!;
    });

    const getCustomer = async (req: { params: { id: string } }, res: Res) => {
      try {
        res.status(200).send(await valve.fetch(req.params.id));
      } catch (error) {
        res.status((error as { status?: number }).status ?? 500).send('Error');
      }
    };
    // app.get('/customer/:id', getCustomer);
    // --- end ---

    const responses = Array.from({ length: 10 }, () => fakeRes());
    const handled = responses.map((res) => getCustomer({ params: { id: '7' } }, res));
    const missing = fakeRes();
    const handledMissing = getCustomer({ params: { id: 'missing' } }, missing);
    await flush();
    expect(queries).toBe(2); // ten requests for customer 7 share one query
    gate.resolve();
    await Promise.all([...handled, handledMissing]);
    expect(responses.map((r) => r.sent)).toEqual(Array(10).fill([200, { id: '7', name: 'customer 7' }]));
    expect(missing.sent).toEqual([404, 'Error']);
  });
});

describe('README: issue 19 sections', () => {
  it('prime / clear', async () => {
    let queries = 0;
    const db = {
      find: async (id: string) => {
        queries++;
        return { id, name: `user ${id}` };
      },
    };
    const log: unknown[] = [];
    const console = { log: (...a: unknown[]) => log.push(a) };
    // --- README: prime ---
    const users = new BurstValve<{ id: string; name: string }, string>(db.find, { lingerMs: 60_000 });
    users.prime('42', { id: '42', name: 'Ada' }); // true: served without a query for 60 s
    users.prime('42', { id: '42', name: 'Bob' }); // false: never overwrites
    users.clear('42');
    users.prime('42', { id: '42', name: 'Bob' }); // true
    console.log((await users.fetch('42')).name); // Bob
    // --- end ---
    expect(log).toEqual([['Bob']]);
    expect(queries).toBe(0);
    await users.close();
  });

  it('lingerMs(value, key)', async () => {
    interface Quote {
      marketOpen: boolean;
    }
    const clock = new ManualClock();
    const fetchQuote = async (symbol: string): Promise<Quote | null> =>
      symbol === 'NONE' ? null : { marketOpen: symbol === 'OPEN' };
    // --- README: lingerMs function ---
    const prices = new BurstValve<Quote | null, string>(fetchQuote, {
      // Open markets move: keep a quote 1 s; a closed market's quote 1 min; a miss not at all.
      lingerMs: (quote) => (quote === null ? 0 : quote.marketOpen ? 1_000 : 60_000),
      clock, // (the test's clock)
    });
    // --- end ---
    await Promise.all([prices.fetch('OPEN'), prices.fetch('SHUT'), prices.fetch('NONE')]);
    expect(prices.stats().lingering).toBe(2);
    await clock.advanceAsync(1_000);
    expect(prices.stats().lingering).toBe(1);
  });

  it('staleIfErrorMs', async () => {
    interface Config {
      v: number;
    }
    const clock = new ManualClock();
    let down = false;
    let loads = 0;
    const loadConfig = async (): Promise<Config> => {
      loads++;
      if (down) throw new Error('config service down');
      return { v: loads };
    };
    const warnings: unknown[] = [];
    const log = { warn: (fields: unknown, message: string) => warnings.push([fields, message]) };
    // --- README: staleIfErrorMs ---
    const config = new BurstValve<Config, string>(loadConfig, {
      lingerMs: 5_000,
      staleWhileRevalidateMs: 10_000,
      staleIfErrorMs: 60_000, // the config service may be down for a minute without callers noticing
      onError: (error, key) => log.warn({ error, key }, 'config refresh failed; serving stale'),
      clock, // (the test's clock)
    });
    // --- end ---
    expect(await config.fetch('app')).toEqual({ v: 1 });
    down = true;
    await clock.advanceAsync(5_000);
    expect(await config.fetch('app')).toEqual({ v: 1 }); // stale; the refresh fails
    await flush();
    await clock.advanceAsync(10_000 + 59_999);
    expect(await config.fetch('app')).toEqual({ v: 1 }); // still served
    await flush();
    expect(warnings.length).toBe(2);
    await clock.advanceAsync(1);
    await expect(config.fetch('app')).rejects.toThrow('config service down');
  });

  it('coalesce', async () => {
    let queries = 0;
    const db = {
      user: async (org: string, id: number) => {
        queries++;
        return { org, id };
      },
    };
    // --- README: coalesce ---
    const getUser = coalesce(async (org: string, id: number) => db.user(org, id), { lingerMs: 100 });
    const [a, b] = await Promise.all([getUser('acme', 1), getUser('acme', 1)]); // one query
    getUser.valve.clear(['acme', 1]); // the valve behind it: stats(), prime, clear, close
    // --- end ---
    expect(a).toBe(b);
    expect(queries).toBe(1);
    await getUser.valve.close();
  });
});

interface Res {
  status(code: number): Res;
  send(body: unknown): void;
}

function fakeRes(): Res & { sent: unknown } {
  let code = 0;
  const res = {
    sent: undefined as unknown,
    status(c: number) {
      code = c;
      return res;
    },
    send(body: unknown) {
      res.sent = [code, body];
    },
  };
  return res;
}

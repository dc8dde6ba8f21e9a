// The README's examples, run as tests (Go's ExampleGroup habit). Keep them in sync with README.md.
import { deferred, flush } from '@valve/testkit';
import { describe, expect, it } from 'vitest';
import { BurstValve } from '../src/index.js';

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

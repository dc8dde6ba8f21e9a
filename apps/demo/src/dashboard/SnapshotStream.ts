/**
 * The dashboard's server-sent events: one shared ticker builds a frame every `intervalMs` and
 * writes it to every connected page, so N pages cost one registry walk a tick, not N.
 *
 * Lifetimes:
 * - the ticker runs only while at least one page is connected, and is unref'd;
 * - a page whose socket is still busy with earlier frames (`writableNeedDrain`) skips frames
 *   instead of growing a buffer in the server, and one that has not read for `dropAfterMisses`
 *   ticks in a row is disconnected (it holds a socket and its unread frames for nothing);
 * - at most `maxClients` pages at once: more are refused with 503 (issue 18: 2,000 streams took
 *   RSS from 431 to ~650 MB and /healthz up to 4 s);
 * - an SSE response never finishes by itself, so the demo's graceful close (which waits for
 *   in-flight requests) would wait for it until its timeout. The demo therefore calls
 *   `closeAll()` (through the dashboard's `close()`) before it closes the server: every stream
 *   ends at once, and a stream asked for afterwards is refused with 503, so nothing polls.
 */
import type { Server } from 'node:http';
import type { Request, Response } from 'express';
import { sendOverloaded } from '../httpErrors.js';

interface Client {
  res: Response;
  /** Ticks in a row at which the page had not read the previous frame. */
  missed: number;
}

export class SnapshotStream {
  private readonly clients = new Set<Client>();
  private timer: NodeJS.Timeout | undefined;
  /** Set by `closeAll()`; from then on `add()` refuses. */
  private closed = false;

  constructor(
    /** Builds one frame (JSON-serialisable); called once a tick while pages are connected. */
    private readonly build: () => unknown,
    readonly intervalMs: number,
    /** Streams open at once; more are refused with 503. */
    readonly maxClients = 100,
    /** Consecutive skipped frames after which a page that does not read is disconnected. */
    readonly dropAfterMisses = 40,
  ) {}

  get size(): number {
    return this.clients.size;
  }

  /** Takes over `res` as an event stream until the page goes away or the server closes. */
  add(_req: Request, res: Response): void {
    if (this.closed) {
      res.setHeader('Connection', 'close');
      sendOverloaded(res, 'shutdown', 1);
      return;
    }
    if (this.clients.size >= this.maxClients) {
      sendOverloaded(res, 'queue_full', 5, { maxStreams: this.maxClients });
      return;
    }
    const client: Client = { res, missed: 0 };
    res.status(200);
    res.setHeader('Content-Type', 'text/event-stream; charset=utf-8');
    res.setHeader('Cache-Control', 'no-store');
    res.setHeader('X-Accel-Buffering', 'no');
    res.flushHeaders();
    // The browser reconnects by itself after `retry` ms if the stream drops (e.g. a restart).
    res.write(`retry: 2000\n\n`);
    this.clients.add(client);
    res.once('close', () => {
      this.clients.delete(client);
      if (this.clients.size === 0) this.stopTimer();
    });
    this.send(client, JSON.stringify(this.build()));
    if (this.timer === undefined) {
      this.timer = setInterval(() => this.tick(), this.intervalMs);
      this.timer.unref();
    }
  }

  /** Ends every stream (the server is shutting down). */
  closeAll(): void {
    this.closed = true;
    for (const c of this.clients) c.res.end();
    this.clients.clear();
    this.stopTimer();
  }

  private tick(): void {
    let data: string | undefined;
    for (const c of this.clients) {
      data ??= JSON.stringify(this.build());
      this.send(c, data);
    }
    if (this.clients.size === 0) this.stopTimer();
  }

  private send(c: Client, data: string): void {
    if (c.res.writableNeedDrain) {
      // A slow page misses frames rather than piling them up; one that stopped reading goes.
      if (++c.missed >= this.dropAfterMisses) c.res.destroy();
      return;
    }
    c.missed = 0;
    c.res.write(`event: frame\ndata: ${data}\n\n`);
  }

  private stopTimer(): void {
    clearInterval(this.timer);
    this.timer = undefined;
  }
}

/**
 * The http.Server a request arrived through: Node's net.Server sets `socket.server` on every
 * socket it accepts (undocumented in the types, stable since Node 0.x).
 */
export function serverOf(req: Request): Server | undefined {
  const server = (req.socket as { server?: unknown }).server;
  return server !== null && typeof server === 'object' && 'listening' in server ? (server as Server) : undefined;
}

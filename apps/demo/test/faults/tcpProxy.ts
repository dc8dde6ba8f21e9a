/**
 * A TCP proxy on 127.0.0.1 in front of a real server (Redis, PostgreSQL), for fault tests that
 * must never touch the machine's real services: `cut()` drops every connection and stops
 * listening (the server died: connections refused), `hang()` keeps connections open and
 * forwards nothing either way (a blackhole: a hung server or a silent firewall), `restore()`
 * listens and forwards again on the same port (hung connections are dropped: their streams are
 * out of step).
 */
import { type AddressInfo, connect, createServer, type Server, type Socket } from 'node:net';

export interface TcpProxy {
  readonly port: number;
  cut(): Promise<void>;
  hang(): void;
  restore(): Promise<void>;
  close(): Promise<void>;
}

export async function tcpProxy(targetHost: string, targetPort: number): Promise<TcpProxy> {
  const sockets = new Set<Socket>();
  const pairs = new Set<{ inbound: Socket; outbound: Socket }>();
  let hung = false;
  let server: Server | undefined;
  let port = 0;
  const track = (s: Socket) => {
    sockets.add(s);
    s.on('error', () => {});
    s.on('close', () => sockets.delete(s));
  };
  const onConnection = (inbound: Socket) => {
    track(inbound);
    if (hung) {
      inbound.resume(); // read and drop, answer nothing
      return;
    }
    const outbound = connect(targetPort, targetHost);
    track(outbound);
    const pair = { inbound, outbound };
    pairs.add(pair);
    const end = () => {
      pairs.delete(pair);
      inbound.destroy();
      outbound.destroy();
    };
    inbound.on('close', end);
    outbound.on('close', end);
    inbound.pipe(outbound);
    outbound.pipe(inbound);
  };
  const listen = () =>
    new Promise<void>((resolve, reject) => {
      const s = createServer(onConnection);
      s.once('error', reject);
      s.listen(port, '127.0.0.1', () => {
        port = (s.address() as AddressInfo).port;
        server = s;
        resolve();
      });
    });
  const stop = () =>
    new Promise<void>((resolve) => {
      for (const s of sockets) s.destroy();
      if (server === undefined) return resolve();
      const s = server;
      server = undefined;
      s.close(() => resolve());
    });
  await listen();
  return {
    get port() {
      return port;
    },
    cut: stop,
    hang() {
      hung = true;
      for (const { inbound, outbound } of pairs) {
        inbound.unpipe(outbound);
        outbound.unpipe(inbound);
        inbound.resume();
        outbound.resume();
      }
    },
    async restore() {
      hung = false;
      for (const { inbound } of pairs) inbound.destroy();
      if (server === undefined) await listen();
    },
    close: stop,
  };
}

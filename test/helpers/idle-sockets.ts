import { once, setMaxListeners } from 'node:events';
import { connect, type Socket } from 'node:net';

/** Idle connections a flood test holds. */
export interface IdleSockets {
  sockets: Socket[];
  destroy(): void;
}

/**
 * Opens `n` TCP connections that never send a byte (nor a TLS ClientHello, nor an HTTP/2 preface); resolves once
 * each has connected (or already been closed: the server may evict early ones while later ones connect). `signal`
 * (the test's) ends every wait, so that a test that times out still reaches its `finally` and stops its server.
 */
export async function holdIdle(port: number, n: number, signal: AbortSignal): Promise<IdleSockets> {
  const sockets: Socket[] = [];
  // Each socket's waits listen on the signal.
  setMaxListeners(2 * n + 10, signal);
  // In batches: a burst of 2,000 SYNs would overflow the listen backlog (511).
  for (let i = 0; i < n; i += 100) {
    const batch = Array.from({ length: Math.min(100, n - i) }, () => {
      const socket = connect(port, '127.0.0.1');
      socket.on('error', () => {});
      // Read, or the server's FIN is never noticed: a paused socket stays in CLOSE-WAIT without 'end' or 'close'.
      socket.resume();
      sockets.push(socket);
      // Both waits are the race's: the one that loses (and is aborted with the test's signal) rejects handled.
      return Promise.race([once(socket, 'connect', { signal }), once(socket, 'close', { signal })]);
    });
    await Promise.all(batch);
  }
  return {
    sockets,
    destroy: () => {
      for (const socket of sockets) socket.destroy();
    },
  };
}

/** `httpextension_connections_closed_total` for one listener and reason, from a /metrics text (0 if absent). */
export function connectionsClosed(metrics: string, listener: 'http' | 'grpc', reason: string): number {
  const line = `httpextension_connections_closed_total{listener="${listener}",reason="${reason}"} `;
  const found = metrics.split('\n').find((l) => l.startsWith(line));
  return found === undefined ? 0 : Number(found.slice(line.length));
}

import { unlinkSync } from 'node:fs';
import { createConnection, createServer, type Server, type Socket } from 'node:net';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { type ErrorCode, HxError, isErrorCode } from '../errors.js';
import type { InferOutcome, InferRequest } from './engine.js';

/**
 * The server processes of one supervised group, seen from one of them: a stateful processor's stream must reach one
 * state whichever process its connection landed on, so each stream has an owner process (a hash of route and stream)
 * and the others hand its frames to the owner over a private unix socket. The supervisor makes the socket folder
 * (mode 0700, its own) and names each process's index in the environment.
 */
export interface PeerGroup {
  dir: string;
  index: number;
  count: number;
}

/** How the supervisor tells a server process its place in the group. Internal: not a setting. */
export const PEERS_ENV = 'HTTPEXTENSION_PEERS';

export function peerGroupEnv(group: PeerGroup): Record<string, string> {
  return { [PEERS_ENV]: JSON.stringify(group) };
}

export function peerGroupFromEnv(env: NodeJS.ProcessEnv = process.env): PeerGroup | undefined {
  const text = env[PEERS_ENV];
  if (text === undefined || text === '') return undefined;
  const group = JSON.parse(text) as PeerGroup;
  const valid =
    typeof group.dir === 'string' &&
    Number.isInteger(group.index) &&
    Number.isInteger(group.count) &&
    group.index >= 0 &&
    group.index < group.count;
  if (!valid) throw new Error(`${PEERS_ENV} is malformed: ${text}`);
  return group;
}

/** The owner of a key among `count` processes: FNV-1a, so that every process agrees without asking. */
export function ownerOf(key: string, count: number): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < key.length; i++) {
    hash ^= key.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193);
  }
  return (hash >>> 0) % count;
}

/** A header larger than this is not ours: the connection is dropped. Bodies are bounded by the front ends. */
const MAX_HEADER_BYTES = 1 << 20;

type Message =
  | {
      t: 'infer';
      id: number;
      request: Omit<InferRequest, 'body' | 'deadline' | 'signal' | 'onStart'>;
      timeoutMs: number;
    }
  | { t: 'cancel'; id: number }
  | { t: 'start'; id: number }
  | { t: 'ok'; id: number; outcome: Omit<InferOutcome, 'image'>; imageType: string | undefined }
  | { t: 'error'; id: number; code: string; message: string; headers: Record<string, string | string[]> };

/** One frame on the wire: [u32 header length][u32 body length][JSON header][body]. */
function send(socket: Socket, message: Message, body: Uint8Array = new Uint8Array(0)): void {
  const header = Buffer.from(JSON.stringify(message));
  const lengths = Buffer.allocUnsafe(8);
  lengths.writeUInt32LE(header.byteLength, 0);
  lengths.writeUInt32LE(body.byteLength, 4);
  socket.cork();
  socket.write(lengths);
  socket.write(header);
  if (body.byteLength > 0) socket.write(body);
  socket.uncork();
}

/** Reads frames off a socket; a malformed one destroys it (only our own processes connect). */
function receive(socket: Socket, onMessage: (message: Message, body: Buffer) => void): void {
  let chunks: Buffer[] = [];
  let length = 0;
  // Chunks are joined only once a whole frame is in: a large body arriving in many chunks is copied once.
  const take = (bytes: number): Buffer => {
    const joined = chunks.length === 1 ? (chunks[0] as Buffer) : Buffer.concat(chunks, length);
    const rest = joined.subarray(bytes);
    chunks = rest.byteLength > 0 ? [rest] : [];
    length = rest.byteLength;
    return joined.subarray(0, bytes);
  };
  let need = 8;
  let header: { bytes: number; body: number } | undefined;
  socket.on('data', (chunk: Buffer) => {
    chunks.push(chunk);
    length += chunk.byteLength;
    while (length >= need) {
      if (header === undefined) {
        const lengths = take(8);
        header = { bytes: lengths.readUInt32LE(0), body: lengths.readUInt32LE(4) };
        if (header.bytes > MAX_HEADER_BYTES) {
          socket.destroy(new Error('peer frame header too large'));
          return;
        }
        need = header.bytes + header.body;
        continue;
      }
      const frame = take(need);
      let message: Message;
      try {
        message = JSON.parse(frame.subarray(0, header.bytes).toString()) as Message;
      } catch (error) {
        socket.destroy(error as Error);
        return;
      }
      const body = frame.subarray(header.bytes);
      header = undefined;
      need = 8;
      onMessage(message, body);
    }
  });
}

function plainError(error: unknown): { code: string; message: string; headers: Record<string, string | string[]> } {
  const hx = error instanceof HxError ? error : new HxError('HX_ERR_SERVER_INTERNAL');
  return { code: hx.code, message: hx.message, headers: { ...hx.headers } };
}

const RETRY_SOON = { headers: { 'retry-after': '1' } };
/** How long past a frame's deadline a forwarder waits for its owner's answer before giving up on it. */
const OWNER_SILENT_MS = 5000;

const ownerGone = (): HxError =>
  new HxError(
    'HX_ERR_CAPACITY_NOT_READY',
    "The server process that holds this stream's state is restarting",
    RETRY_SOON,
  );

interface Forwarded {
  resolve: (outcome: InferOutcome) => void;
  reject: (error: HxError) => void;
  onStart: (() => void) | undefined;
}

/** A connection to one owner, opened on first use and again after it closed. */
class PeerLink {
  private socket: Socket | undefined;
  private readonly pending = new Map<number, Forwarded>();
  private nextId = 0;

  constructor(private readonly path: string) {}

  forward(request: InferRequest): Promise<InferOutcome> {
    const socket = this.connected();
    const id = ++this.nextId;
    const { body, deadline, signal, onStart, ...rest } = request;
    return new Promise<InferOutcome>((resolve, reject) => {
      const timeoutMs = Math.max(0, deadline - performance.now());
      // The owner answers a frame past its deadline itself; this is for an owner that cannot answer at all.
      const timer = setTimeout(() => {
        if (this.pending.delete(id)) reject(new HxError('HX_ERR_CAPACITY_TIMEOUT', undefined, RETRY_SOON));
      }, timeoutMs + OWNER_SILENT_MS);
      timer.unref();
      const settle =
        <T>(f: (value: T) => void) =>
        (value: T) => {
          clearTimeout(timer);
          f(value);
        };
      this.pending.set(id, { resolve: settle(resolve), reject: settle(reject), onStart });
      send(socket, { t: 'infer', id, request: rest, timeoutMs }, body);
      // The owner answers a cancelled frame as its own scheduler does (HX_ERR_CLIENT_GONE).
      signal?.addEventListener('abort', () => this.socket === socket && send(socket, { t: 'cancel', id }), {
        once: true,
      });
    });
  }

  private connected(): Socket {
    if (this.socket !== undefined) return this.socket;
    const socket = createConnection(this.path);
    this.socket = socket;
    receive(socket, (message, body) => {
      const waiting = this.pending.get(message.id);
      if (waiting === undefined) return;
      if (message.t === 'start') waiting.onStart?.();
      else if (message.t === 'ok') {
        this.pending.delete(message.id);
        const image = message.imageType === undefined ? undefined : { mediaType: message.imageType, bytes: body };
        waiting.resolve({ ...message.outcome, ...(image ? { image } : {}) });
      } else if (message.t === 'error') {
        this.pending.delete(message.id);
        const code: ErrorCode = isErrorCode(message.code) ? message.code : 'HX_ERR_SERVER_INTERNAL';
        waiting.reject(new HxError(code, message.message, { headers: message.headers }));
      }
    });
    // The owner not listening yet (starting, restarting) or gone: every frame waiting on it gets a retryable 503.
    socket.on('error', () => {});
    socket.on('close', () => {
      if (this.socket === socket) this.socket = undefined;
      const lost = [...this.pending.values()];
      this.pending.clear();
      for (const waiting of lost) waiting.reject(ownerGone());
    });
    return socket;
  }

  close(): void {
    this.socket?.destroy();
  }
}

export type LocalInfer = (request: InferRequest) => Promise<InferOutcome>;

/** This process's place in the group: it serves the streams it owns to the others and forwards the rest. */
export class PeerMesh {
  private readonly links = new Map<number, PeerLink>();
  private readonly inbound = new Set<Socket>();

  private server: Server | undefined;

  constructor(private readonly group: PeerGroup) {}

  static socketPath(group: PeerGroup, index: number): string {
    return join(group.dir, `p${index}.sock`);
  }

  /** Listens for the other processes' frames of the streams this one owns, running them with `local`. */
  async listen(local: LocalInfer): Promise<void> {
    const path = PeerMesh.socketPath(this.group, this.group.index);
    // A predecessor at this index (crashed, replaced) leaves its socket file behind.
    try {
      unlinkSync(path);
    } catch {}
    const server = createServer((socket) => this.serveConnection(socket, local));
    this.server = server;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(path, () => {
        server.off('error', reject);
        resolve();
      });
    });
  }

  /** The process that owns `key`, or undefined when it is this one. */
  remoteOwner(key: string): number | undefined {
    const owner = ownerOf(key, this.group.count);
    return owner === this.group.index ? undefined : owner;
  }

  forward(owner: number, request: InferRequest): Promise<InferOutcome> {
    let link = this.links.get(owner);
    if (link === undefined) {
      link = new PeerLink(PeerMesh.socketPath(this.group, owner));
      this.links.set(owner, link);
    }
    return link.forward(request);
  }

  private serveConnection(socket: Socket, local: LocalInfer): void {
    this.inbound.add(socket);
    const running = new Map<number, AbortController>();
    socket.on('error', () => {});
    socket.on('close', () => {
      this.inbound.delete(socket);
      // The forwarding process went away: nobody reads these answers.
      for (const controller of running.values()) controller.abort();
    });
    receive(socket, (message, body) => {
      if (message.t === 'cancel') running.get(message.id)?.abort();
      if (message.t !== 'infer') return;
      const { id } = message;
      const controller = new AbortController();
      running.set(id, controller);
      local({
        ...message.request,
        body: new Uint8Array(body),
        deadline: performance.now() + message.timeoutMs,
        signal: controller.signal,
        onStart: () => send(socket, { t: 'start', id }),
      })
        .then(
          ({ image, ...outcome }) => send(socket, { t: 'ok', id, outcome, imageType: image?.mediaType }, image?.bytes),
          (error: unknown) => send(socket, { t: 'error', id, ...plainError(error) }),
        )
        .finally(() => running.delete(id));
    });
  }

  async close(): Promise<void> {
    for (const link of this.links.values()) link.close();
    for (const socket of this.inbound) socket.destroy();
    const { server } = this;
    if (server?.listening) await new Promise<void>((resolve) => server.close(() => resolve()));
  }
}

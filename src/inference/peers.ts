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
  | { t: 'ask'; id: number; from: number; kind: string; payload: unknown }
  | { t: 'answer'; id: number; payload: unknown }
  | { t: 'tell'; from: number; kind: string; payload: unknown }
  | { t: 'error'; id: number; code: string; message: string; headers: Record<string, string | string[]> };

/** What another process answered: a JSON value and bytes (empty when none). */
export interface PeerAnswer {
  payload: unknown;
  body: Uint8Array;
}

/**
 * The group as a front end sees it, beyond frames: questions to the other processes and notices to them, by kind
 * (the console shows the whole group's streams and figures through it).
 */
export interface PeerGroupApi {
  readonly index: number;
  readonly count: number;
  /** Asks one process; rejects when it cannot answer (starting, restarting, no answer within ASK_TIMEOUT_MS). */
  ask(peer: number, kind: string, payload: unknown): Promise<PeerAnswer>;
  /** Asks every other process; those that cannot answer are left out. */
  askAll(kind: string, payload: unknown): Promise<PeerAnswer[]>;
  /** Tells every other process (or one), without waiting: a process that is not up misses it. */
  tell(kind: string, payload: unknown, peer?: number): void;
  /** Answers the others' `kind` questions. */
  answer(kind: string, handler: (payload: unknown, from: number) => Promise<AnswerOf> | AnswerOf): void;
  /** Hears the others' `kind` notices. */
  hear(kind: string, handler: (payload: unknown, from: number) => void): void;
}

type AnswerOf = { payload: unknown; body?: Uint8Array | undefined };

/** A question to a process that takes longer than this is given up (the console must not hang on a stuck peer). */
const ASK_TIMEOUT_MS = 2000;

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

interface Waiting {
  resolve: (reply: { message: Message; body: Buffer }) => void;
  reject: (error: HxError) => void;
  onStart: (() => void) | undefined;
}

/** A connection to one process, opened on first use and again after it closed; replies are matched by id. */
class PeerLink {
  private socket: Socket | undefined;
  private readonly pending = new Map<number, Waiting>();
  private nextId = 0;

  constructor(private readonly path: string) {}

  forward(request: InferRequest): Promise<InferOutcome> {
    const { body, deadline, signal, onStart, ...rest } = request;
    const timeoutMs = Math.max(0, deadline - performance.now());
    // The owner answers a frame past its deadline itself; the wait here is for an owner that cannot answer at all.
    const { id, reply, socket } = this.request(
      (id) => ({ t: 'infer', id, request: rest, timeoutMs }),
      body,
      timeoutMs + OWNER_SILENT_MS,
      () => new HxError('HX_ERR_CAPACITY_TIMEOUT', undefined, RETRY_SOON),
      onStart,
    );
    // The owner answers a cancelled frame as its own scheduler does (HX_ERR_CLIENT_GONE).
    signal?.addEventListener('abort', () => this.socket === socket && send(socket, { t: 'cancel', id }), {
      once: true,
    });
    return reply.then(({ message, body: image }) => {
      if (message.t !== 'ok') throw new HxError('HX_ERR_SERVER_INTERNAL');
      const { outcome, imageType } = message;
      return imageType === undefined ? outcome : { ...outcome, image: { mediaType: imageType, bytes: image } };
    });
  }

  ask(from: number, kind: string, payload: unknown): Promise<PeerAnswer> {
    const { reply } = this.request(
      (id) => ({ t: 'ask', id, from, kind, payload }),
      undefined,
      ASK_TIMEOUT_MS,
      () => new HxError('HX_ERR_CAPACITY_TIMEOUT', `Another server process did not answer ${kind}`, RETRY_SOON),
    );
    return reply.then(({ message, body }) => ({ payload: message.t === 'answer' ? message.payload : undefined, body }));
  }

  tell(message: Message): void {
    send(this.connected(), message);
  }

  private request(
    make: (id: number) => Message,
    body: Uint8Array | undefined,
    timeoutMs: number,
    timeout: () => HxError,
    onStart?: () => void,
  ): { id: number; socket: Socket; reply: Promise<{ message: Message; body: Buffer }> } {
    const socket = this.connected();
    const id = ++this.nextId;
    const reply = new Promise<{ message: Message; body: Buffer }>((resolve, reject) => {
      const timer = setTimeout(() => {
        if (this.pending.delete(id)) reject(timeout());
      }, timeoutMs);
      timer.unref();
      const settle =
        <T>(f: (value: T) => void) =>
        (value: T) => {
          clearTimeout(timer);
          f(value);
        };
      this.pending.set(id, { resolve: settle(resolve), reject: settle(reject), onStart });
    });
    send(socket, make(id), body);
    return { id, socket, reply };
  }

  private connected(): Socket {
    if (this.socket !== undefined) return this.socket;
    const socket = createConnection(this.path);
    this.socket = socket;
    receive(socket, (message, body) => {
      if (!('id' in message)) return;
      const waiting = this.pending.get(message.id);
      if (waiting === undefined) return;
      if (message.t === 'start') waiting.onStart?.();
      else if (message.t === 'error') {
        this.pending.delete(message.id);
        const code: ErrorCode = isErrorCode(message.code) ? message.code : 'HX_ERR_SERVER_INTERNAL';
        waiting.reject(new HxError(code, message.message, { headers: message.headers }));
      } else {
        this.pending.delete(message.id);
        waiting.resolve({ message, body });
      }
    });
    // The process not listening yet (starting, restarting) or gone: everything waiting on it gets a retryable 503.
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
export class PeerMesh implements PeerGroupApi {
  private readonly links = new Map<number, PeerLink>();
  private readonly inbound = new Set<Socket>();
  private readonly answers = new Map<string, (payload: unknown, from: number) => Promise<AnswerOf> | AnswerOf>();
  private readonly hearers = new Map<string, (payload: unknown, from: number) => void>();
  private server: Server | undefined;

  constructor(private readonly group: PeerGroup) {}

  get index(): number {
    return this.group.index;
  }

  get count(): number {
    return this.group.count;
  }

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
    return this.link(owner).forward(request);
  }

  ask(peer: number, kind: string, payload: unknown): Promise<PeerAnswer> {
    return this.link(peer).ask(this.group.index, kind, payload);
  }

  async askAll(kind: string, payload: unknown): Promise<PeerAnswer[]> {
    const settled = await Promise.allSettled(this.others().map((peer) => this.ask(peer, kind, payload)));
    return settled.flatMap((s) => (s.status === 'fulfilled' ? [s.value] : []));
  }

  tell(kind: string, payload: unknown, peer?: number): void {
    const message: Message = { t: 'tell', from: this.group.index, kind, payload };
    for (const to of peer === undefined ? this.others() : [peer]) this.link(to).tell(message);
  }

  answer(kind: string, handler: (payload: unknown, from: number) => Promise<AnswerOf> | AnswerOf): void {
    this.answers.set(kind, handler);
  }

  hear(kind: string, handler: (payload: unknown, from: number) => void): void {
    this.hearers.set(kind, handler);
  }

  private others(): number[] {
    return Array.from({ length: this.group.count }, (_, i) => i).filter((i) => i !== this.group.index);
  }

  private link(peer: number): PeerLink {
    let link = this.links.get(peer);
    if (link === undefined) {
      link = new PeerLink(PeerMesh.socketPath(this.group, peer));
      this.links.set(peer, link);
    }
    return link;
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
    const fail = (id: number) => (error: unknown) => send(socket, { t: 'error', id, ...plainError(error) });
    receive(socket, (message, body) => {
      switch (message.t) {
        case 'cancel':
          running.get(message.id)?.abort();
          return;
        case 'tell':
          this.hearers.get(message.kind)?.(message.payload, message.from);
          return;
        case 'ask': {
          const { id, kind, payload, from } = message;
          const handler = this.answers.get(kind);
          if (handler === undefined) return fail(id)(new HxError('HX_ERR_HTTP_NOT_FOUND', `No answer to ${kind}`));
          Promise.resolve()
            .then(() => handler(payload, from))
            .then((answer) => send(socket, { t: 'answer', id, payload: answer.payload }, answer.body), fail(id));
          return;
        }
        case 'infer': {
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
              ({ image, ...outcome }) =>
                send(socket, { t: 'ok', id, outcome, imageType: image?.mediaType }, image?.bytes),
              fail(id),
            )
            .finally(() => running.delete(id));
          return;
        }
        default:
          return;
      }
    });
  }

  async close(): Promise<void> {
    for (const link of this.links.values()) link.close();
    for (const socket of this.inbound) socket.destroy();
    const { server } = this;
    if (server?.listening) await new Promise<void>((resolve) => server.close(() => resolve()));
  }
}

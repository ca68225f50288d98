import { closeSync, fstatSync, openSync, readSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { type ServerDuplexStream, status } from '@grpc/grpc-js';
import type { Logger } from 'pino';
import type { Config } from '../../config/defaults.js';
import { HxError, isHxError } from '../../errors.js';
import type { InferenceEngine, InferRequest } from '../../inference/engine.js';
import type { Metrics } from '../../observability/metrics.js';
import { type ProtoInference, type StreamMessage, toProtoInference } from '../../schema/grpc-inference.js';
import type { Inference } from '../../schema/inference.js';
import type { Authenticator } from '../auth/authenticator.js';

export type { StreamMessage } from '../../schema/grpc-inference.js';

export type Call = ServerDuplexStream<StreamMessage, StreamMessage>;

export interface SessionDeps {
  config: Readonly<Config>;
  engine: InferenceEngine;
  metrics: Metrics;
  logger: Logger;
  authenticator: Authenticator;
}

const MEDIA_TYPES = { JPG: 'image/jpeg', PNG: 'image/png', BMP: 'image/bmp', RAW: 'image/x-raw' } as const;
/** A shared memory name is one file in /dev/shm: no separators, no dot-dot. */
const SAFE_HANDLE = /^[A-Za-z0-9._-]{1,255}$/;
const METHOD = 'GRPC';

/** What the descriptor set up for the rest of the stream. */
interface Setup {
  route: string;
  query: Record<string, string>;
  mediaType: string;
  rawHints: InferRequest['rawHints'];
  shm: { fd: number; path: string } | undefined;
}

/**
 * One `ProcessMediaStream` call: the descriptor first (answered by ours), then one answer per sample, acking its
 * sequence number with its timestamp and inferences. Samples run concurrently on the engine (a stateful processor
 * still sees them in order: the stream is its key); an answer goes out when its frame is done.
 */
export class Session {
  private setup: Setup | undefined;
  private sent = 0;
  private received = 0;
  private readonly inFlight = new Set<Promise<void>>();
  private ended = false;
  private draining = false;
  private idleTimer: NodeJS.Timeout | undefined;
  readonly id: string;

  /** The stream's descriptor was accepted: until then it is a stream that holds a connection and has asked nothing. */
  get described(): boolean {
    return this.setup !== undefined;
  }

  constructor(
    private readonly call: Call,
    private readonly deps: SessionDeps,
    id: number,
  ) {
    // With the pid: a stream's id keys a stateful processor's state, which one process of a group holds for all.
    this.id = `grpc-${process.pid}-${id}`;
    call.on('data', (message: StreamMessage) => this.onMessage(message));
    call.on('end', () => void this.settled().then(() => this.finish()));
    call.on('cancelled', () => this.release());
    call.on('error', () => this.release());
    this.armIdleTimer();
  }

  /** A stream that sends nothing, with nothing of it in flight, holds a descriptor and a file open: it is released. */
  private armIdleTimer(): void {
    clearTimeout(this.idleTimer);
    if (this.ended) return;
    this.idleTimer = setTimeout(() => {
      if (this.inFlight.size > 0) this.armIdleTimer();
      else {
        const ms = this.deps.config.grpc.idleTimeoutMs;
        this.fail(new HxError('HX_ERR_GRPC_IDLE', `The stream sent nothing for ${ms} ms (grpc.idleTimeoutMs)`));
      }
    }, this.deps.config.grpc.idleTimeoutMs);
    this.idleTimer.unref();
  }

  /** SIGTERM: take no more samples, answer the accepted ones, then end the stream with UNAVAILABLE. */
  async drain(): Promise<void> {
    this.draining = true;
    await this.settled();
    this.fail(new HxError('HX_ERR_CAPACITY_DRAINING', 'The server is shutting down: reconnect to another instance'));
  }

  /** Resolves when every accepted sample has been answered. */
  async settled(): Promise<void> {
    while (this.inFlight.size > 0) await Promise.allSettled([...this.inFlight]);
  }

  private onMessage(message: StreamMessage): void {
    if (this.ended) return;
    this.received++;
    this.armIdleTimer();
    try {
      if (message.sequenceNumber !== this.received) {
        throw new HxError(
          'HX_ERR_GRPC_PROTOCOL',
          `Message sequence_number ${message.sequenceNumber ?? 0} should be ${this.received}: numbers start at 1 and ` +
            'increase by one per message',
        );
      }
      if (this.setup === undefined) this.describe(message);
      else this.sample(message);
    } catch (error) {
      this.fail(error);
    }
  }

  private describe(message: StreamMessage): void {
    const descriptor = message.mediaStreamDescriptor;
    if (message.payload !== 'mediaStreamDescriptor' || descriptor === undefined) {
      throw new HxError('HX_ERR_GRPC_PROTOCOL', 'The first message must be a MediaStreamDescriptor, not a MediaSample');
    }
    const { route, query } = parseExtensionConfiguration(descriptor.extensionConfiguration ?? '');
    const routeConfig = this.deps.config.routes.find((r) => r.path === route);
    if (routeConfig === undefined || this.deps.engine.processorOf(route) === undefined) {
      const known = this.deps.config.routes.map((r) => r.path).join(', ');
      throw new HxError('HX_ERR_HTTP_NOT_FOUND', `extension_configuration selects ${route}: no such route (${known})`);
    }
    const verdict = this.deps.authenticator.check(
      { method: 'POST', url: route, headers: { authorization: metadataValue(this.call, 'x-ms-authentication') } },
      routeConfig.auth ?? this.deps.config.auth.schemes,
    );
    if (!verdict.ok) {
      throw new HxError(
        verdict.missing ? 'HX_ERR_AUTH_REQUIRED' : 'HX_ERR_AUTH_INVALID',
        verdict.missing
          ? `${route} needs credentials: send x-ms-authentication metadata ("Basic base64(user:password)")`
          : 'The x-ms-authentication credentials are not valid',
      );
    }
    const format = descriptor.mediaDescriptor?.videoFrameSampleFormat;
    const encoding = format?.encoding ?? 'BMP';
    this.setup = {
      route,
      query,
      mediaType: MEDIA_TYPES[encoding],
      // The descriptor's geometry is the frame's own, like Content-Type parameters over HTTP (0 is proto3's unset).
      rawHints: [
        {
          width: format?.dimensions?.width || undefined,
          height: format?.dimensions?.height || undefined,
          format: format?.pixelFormat && format.pixelFormat !== 'NONE' ? format.pixelFormat.toLowerCase() : undefined,
          stride: format?.strideBytes || undefined,
        },
      ],
      shm: openSharedMemory(descriptor.sharedMemoryBufferTransferProperties),
    };
    this.write({ mediaStreamDescriptor: { mediaDescriptor: descriptor.mediaDescriptor ?? { timescale: 90000 } } }, 1);
  }

  private sample(message: StreamMessage): void {
    const sample = message.mediaSample;
    if (message.payload !== 'mediaSample' || sample === undefined) {
      throw new HxError('HX_ERR_GRPC_PROTOCOL', 'Only the first message may be a MediaStreamDescriptor');
    }
    if (this.draining) {
      throw new HxError('HX_ERR_CAPACITY_DRAINING', 'The server is shutting down: reconnect to another instance');
    }
    const setup = this.setup!;
    const body = this.contentOf(sample, setup);
    const ack = this.received;
    const timestamp = sample.timestamp ?? 0;
    const startedAt = performance.now();
    const job = this.run(setup, body, ack, timestamp, startedAt).finally(() => this.inFlight.delete(job));
    this.inFlight.add(job);
  }

  private contentOf(sample: NonNullable<StreamMessage['mediaSample']>, setup: Setup): Uint8Array {
    if (sample.contentBytes !== undefined) return sample.contentBytes.bytes ?? new Uint8Array(0);
    const reference = sample.contentReference;
    if (reference === undefined) throw new HxError('HX_ERR_GRPC_PROTOCOL', 'The MediaSample carries no content');
    const shm = setup.shm;
    if (shm === undefined) {
      throw new HxError(
        'HX_ERR_GRPC_PROTOCOL',
        'A MediaSample refers to shared memory, but the descriptor set up no shared_memory_buffer_transfer_properties',
      );
    }
    const offset = reference.addressOffset ?? 0;
    const length = reference.lengthBytes ?? 0;
    // The file may have been resized since the descriptor: bounds are checked against its size now.
    const size = fstatSync(shm.fd).size;
    if (length === 0 || offset + length > size) {
      throw new HxError(
        'HX_ERR_GRPC_SHARED_MEMORY',
        `ContentReference offset ${offset} length ${length} is outside ${shm.path} (${size} bytes)`,
      );
    }
    // Copied out: the client may reuse this memory once the sample is acked, and the frame may still be queued then.
    const bytes = Buffer.allocUnsafe(length);
    readSync(shm.fd, bytes, 0, length, offset);
    return bytes;
  }

  private async run(setup: Setup, body: Uint8Array, ack: number, timestamp: number, startedAt: number): Promise<void> {
    const { engine, metrics, config } = this.deps;
    let inferences: ProtoInference[] = [];
    try {
      const outcome = await engine.infer({
        route: setup.route,
        body,
        mediaType: setup.mediaType,
        rawHints: setup.rawHints,
        query: setup.query,
        stream: this.id,
        output: 'json',
        requestId: `${this.id}-${ack}`,
        deadline: startedAt + config.requestTimeoutMs,
      });
      metrics.observeInferences(outcome.processor, outcome.labels);
      if (outcome.json !== undefined) {
        inferences = (JSON.parse(outcome.json) as { inferences: Inference[] }).inferences.map(toProtoInference);
      }
      this.observe(setup.route, startedAt, 200, undefined);
    } catch (error) {
      const hx = isHxError(error) ? error : undefined;
      this.observe(setup.route, startedAt, hx?.status ?? 500, hx?.code ?? 'HX_ERR_SERVER_INTERNAL');
      // Back-pressure (a frame the engine has no room for) and failures of ours on one frame are answered at once,
      // empty, and counted: the contract has no per-sample error, and the camera's next frame may well succeed.
      // What the client got wrong ends the stream, so that it is seen and fixed.
      if (hx === undefined || hx.status < 500 || hx.code === 'HX_ERR_CAPACITY_DRAINING') {
        this.fail(error);
        return;
      }
      if (hx.code !== 'HX_ERR_CAPACITY_QUEUE_FULL') {
        this.deps.logger.warn({ code: hx.code, stream: this.id, sample: ack }, 'gRPC sample failed; answered empty');
      }
    }
    this.write({ ackSequenceNumber: ack, mediaSample: { timestamp, inferences } });
  }

  private observe(route: string, startedAt: number, status: number, code: string | undefined): void {
    this.deps.metrics.observeRequest({
      route,
      method: METHOD,
      status,
      durationSeconds: (performance.now() - startedAt) / 1000,
      code,
    });
  }

  private write(message: Omit<StreamMessage, 'sequenceNumber'>, ack?: number): void {
    if (this.ended) return;
    this.sent++;
    this.call.write({
      sequenceNumber: this.sent,
      ...(ack === undefined ? {} : { ackSequenceNumber: ack }),
      ...message,
    });
  }

  private finish(): void {
    if (this.ended) return;
    this.release();
    this.call.end();
  }

  /** Ends the stream with the gRPC status of the error; the process goes on serving. */
  private fail(error: unknown): void {
    if (this.ended) return;
    this.release();
    const hx = isHxError(error) ? error : new HxError('HX_ERR_SERVER_INTERNAL', 'Internal server error');
    if (!isHxError(error)) this.deps.logger.error({ err: error, stream: this.id }, 'gRPC stream failed');
    else this.deps.logger.info({ code: hx.code, stream: this.id, message: hx.message }, 'gRPC stream ended');
    this.call.emit('error', { code: grpcStatus(hx), details: `${hx.code}: ${hx.message}` });
  }

  private release(): void {
    if (this.ended) return;
    this.ended = true;
    clearTimeout(this.idleTimer);
    if (this.setup?.shm !== undefined) closeSync(this.setup.shm.fd);
  }
}

/**
 * `extension_configuration`: empty selects /score; a path selects that route; a JSON object selects `route` (default
 * /score) and carries the rest as the query an HTTP request would send (`confidence`, `object`, processor options).
 */
export function parseExtensionConfiguration(text: string): { route: string; query: Record<string, string> } {
  const trimmed = text.trim();
  if (trimmed === '') return { route: '/score', query: {} };
  if (trimmed.startsWith('/')) return { route: trimmed, query: {} };
  let parsed: unknown;
  try {
    parsed = JSON.parse(trimmed);
  } catch {
    parsed = undefined;
  }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) {
    throw new HxError(
      'HX_ERR_GRPC_CONFIGURATION',
      `extension_configuration ${JSON.stringify(text.slice(0, 100))} is neither a route path such as "/detect" nor a ` +
        'JSON object such as {"route":"/detect","confidence":0.5,"object":"person"}',
    );
  }
  const { route = '/score', ...rest } = parsed as Record<string, unknown>;
  const query: Record<string, string> = {};
  for (const [key, value] of Object.entries(rest)) {
    if (typeof value !== 'string' && typeof value !== 'number' && typeof value !== 'boolean') {
      throw new HxError('HX_ERR_GRPC_CONFIGURATION', `extension_configuration: "${key}" must be a string or a number`);
    }
    query[key] = String(value);
  }
  if (typeof route !== 'string' || !route.startsWith('/')) {
    throw new HxError('HX_ERR_GRPC_CONFIGURATION', 'extension_configuration: "route" must be a path such as "/detect"');
  }
  return { route, query };
}

function openSharedMemory(
  properties: { handleName?: string; lengthBytes?: number } | undefined,
): Setup['shm'] | undefined {
  if (properties === undefined) return undefined;
  const name = properties.handleName ?? '';
  if (!SAFE_HANDLE.test(name) || name === '.' || name === '..') {
    throw new HxError(
      'HX_ERR_GRPC_SHARED_MEMORY',
      `handle_name ${JSON.stringify(name)} is not a file name in /dev/shm`,
    );
  }
  const path = `/dev/shm/${name}`;
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch (error) {
    throw new HxError(
      'HX_ERR_GRPC_SHARED_MEMORY',
      `Cannot open ${path} (${(error as NodeJS.ErrnoException).code}): client and server must share the IPC ` +
        'namespace (docs/grpc.md)',
    );
  }
  return { fd, path };
}

function metadataValue(call: Call, key: string): string | undefined {
  const value = call.metadata.get(key)[0];
  return value === undefined ? undefined : String(value);
}

/** Our error's HTTP status, as the gRPC status a client of the contract expects. */
function grpcStatus(error: HxError): status {
  switch (error.code) {
    case 'HX_ERR_GRPC_PROTOCOL':
      return status.FAILED_PRECONDITION;
    case 'HX_ERR_CAPACITY_DRAINING':
      return status.UNAVAILABLE;
    case 'HX_ERR_GRPC_IDLE':
      return status.DEADLINE_EXCEEDED;
    case 'HX_ERR_LIMIT_TOO_MANY_PIXELS':
    case 'HX_ERR_LIMIT_BODY_TOO_LARGE':
      return status.RESOURCE_EXHAUSTED;
  }
  if (error.status === 401) return status.UNAUTHENTICATED;
  if (error.status === 404) return status.NOT_FOUND;
  if (error.status >= 400 && error.status < 500) return status.INVALID_ARGUMENT;
  return status.INTERNAL;
}

import { EventEmitter } from 'node:events';
import type { FrameRequirements } from '../contract/frame.js';
import type { ProcessorDefinition } from '../contract/processor.js';
import { HxError } from '../errors.js';
import { processorOptions } from '../processors/options.js';
import { loadProcessor, resolveProcessorUrl } from '../processors/registry.js';
import { type AdmissionLimits, admitDeclared, admitMedia } from './admission.js';
import { ANNOTATED_MEDIA_TYPE } from './annotate.js';
import { CircuitBreaker } from './circuit-breaker.js';
import { type Executor, type ExecutorEvents, InlineExecutor, WorkerExecutor } from './executor.js';
import { parseFilters } from './filters.js';
import { jpegReduction } from './jpeg-native.js';
import type { WorkerProcessorSpec } from './messages.js';
import { type PeerGroup, type PeerGroupApi, PeerMesh } from './peers.js';
import type { MediaInfo, RawGeometrySource } from './probe.js';
import { type Lane, Scheduler } from './scheduler.js';
import { TaskRunner } from './task-runner.js';

export { FILTER_KEYS } from './filters.js';
export type { PeerAnswer, PeerGroupApi as EngineGroup } from './peers.js';
export type { RawGeometrySource } from './probe.js';

/** Where a route's frames run: on worker threads, on the event loop, or `auto` (the processor's `cheap` says). */
export type Execution = 'auto' | 'workers' | 'inline';

export interface EngineRoute {
  path: string;
  processor: string;
  options: Record<string, unknown>;
  execution?: Execution | undefined;
}

export interface EngineOptions {
  routes: readonly EngineRoute[];
  /** Worker threads, for the routes that run on workers. */
  workers: number;
  /** The default for routes that do not say. */
  execution?: Execution;
  maxQueuedRequests: number;
  maxPixels: number;
  /** The configured raw geometry, for image/x-raw frames that do not state theirs. */
  raw?: RawGeometrySource;
  /** How long a job may run on past its deadline before its worker is taken as hung (see Scheduler). */
  hungAfterMs?: number;
  /** Where relative processor paths are resolved from (the config file's folder, else the working directory). */
  baseDir?: string;
  /** A route whose processor faults its executor this many times in a row is paused (circuit breaker). */
  faultLimit?: number;
  /** The first pause; it doubles while the trial frame after it faults too, up to a minute. */
  faultBackoffMs?: number;
  /** A worker holding more than this (MB) after a task is replaced before its next one. */
  workerMaxMemoryMb?: number;
  /**
   * Whether, under load, a cheap stateless processor's frames go to the workers (default true), and a cheap stateful
   * one's streams run on the workers (each stream on one, by affinity) rather than all on the one event loop. That
   * pays only while the process has cores beyond its event loop: with a process per core, every hand-off costs a
   * core's time, and the group spreads the streams over its processes instead.
   */
  handOffUnderLoad?: boolean;
  /** The supervised group this process is one of: a stateful route's stream is served by its owner process. */
  peers?: PeerGroup | undefined;
  /**
   * In a group: resolves when every process of the group has been ready once. Until then `state().ready` is false
   * here too, so that readiness probes see the group's state, whichever process they reach; frames are served.
   */
  groupReady?: Promise<void> | undefined;
}

/** One frame, as any front end hands it over: bytes plus what the protocol said about them. */
export interface InferRequest {
  route: string;
  body: Uint8Array;
  /** The declared media type's lower-case essence ('' when none): a hint, the bytes are sniffed. */
  mediaType: string;
  /** Raw geometry from the request, in precedence order (the configured geometry comes last, added here). */
  rawHints?: readonly RawGeometrySource[];
  /** Filters (`confidence`, `object`) and whatever else the processor reads from the query. */
  query: Record<string, string>;
  /** The stream the frame belongs to: a stateful processor's frames of one stream reach one instance, in order. */
  stream?: string;
  /** Who sent it, as the front end knows them (the client's address): names the stream for viewers when `stream` is empty. */
  origin?: string;
  /** `image`: the frame with its inferences drawn (ANNOTATED_MEDIA_TYPE) instead of JSON. */
  output: 'json' | 'image';
  requestId: string;
  /** Absolute deadline, performance.now() ms. */
  deadline: number;
  signal?: AbortSignal;
  /** Called when the frame leaves the queue for an executor. */
  onStart?: () => void;
}

export interface InferOutcome {
  /** Serialised `{"inferences":[...]}`, or undefined for "no result". */
  json: string | undefined;
  /** The annotated frame, when the request asked for `image`. */
  image?: { mediaType: string; bytes: Uint8Array };
  inferenceCount: number;
  labels: Array<[string, string]>;
  timings: { queueMs: number; decodeMs: number; processMs: number; encodeMs: number };
  processor: string;
}

export interface EngineState {
  /** Every executor is up and the engine is not draining. */
  ready: boolean;
  draining: boolean;
  queued: number;
  busy: number;
  /** Frames that can run at once (worker threads, plus the event loop when a route runs there). */
  capacity: number;
  /** Worker threads (0 when every route runs on the event loop). */
  workers: number;
  retryAfterSeconds: number;
}

export interface EngineEvents {
  /** A worker stopped unexpectedly (crash, or hung past its deadline); it is being replaced. */
  'worker-exit': [{ workerId: number; reason: string }];
  /** The internal detail of a failed frame: for the log, never for the client. */
  'task-error-detail': [{ requestId: string; code: string; detail: string }];
  /** The engine cannot serve any more (a worker kept failing to start): the process should stop. */
  fatal: [HxError];
  /** A frame was answered: for viewers (the console). The bytes come only for the streams `watchFrames` wants. */
  answered: [AnsweredFrame];
  /** A route's processor faulted its executor (for the log). */
  'processor-fault': [{ route: string; detail: string }];
  /** A route's circuit breaker opened: its frames are refused for `backoffMs`. */
  'circuit-open': [{ route: string; backoffMs: number }];
}

export interface AnsweredFrame {
  route: string;
  /** The request's stream, else its origin, else ''. */
  stream: string;
  requestId: string;
  media: { kind: MediaInfo['kind']; width: number; height: number };
  /** The frame as received (a copy), when wanted. */
  body: Uint8Array | undefined;
  json: string | undefined;
  /** The annotated image, when the request asked for one. */
  image: { mediaType: string; bytes: Uint8Array } | undefined;
  /** Wall-clock milliseconds. */
  at: number;
}

interface RouteEntry {
  /** Where the route's frames run. */
  lane: Lane;
  /** For a cheap stateless processor on the event loop: the workers, which take some of its frames (see laneFor). */
  workers: Lane | undefined;
  processor: string;
  stateful: boolean;
  /** What the processor asks of the decode: how far a JPEG of this route is reduced, hence its cost (laneFor). */
  needs: FrameRequirements;
}

/**
 * The protocol-neutral core, the only thing a front end calls: it admits a frame (media probe, raw geometry, pixel
 * limit, filters), schedules it on the route's executors and returns one outcome, or throws an HxError that the
 * front end maps to its protocol. Knows nothing of HTTP or gRPC.
 */
export class InferenceEngine extends EventEmitter<EngineEvents> {
  private readonly scheduler: Scheduler;
  private readonly routes: ReadonlyMap<string, RouteEntry>;
  private readonly executors: readonly Executor[];
  private readonly limits: AdmissionLimits;
  private readonly workerCount: number;
  private frameWanted: ((route: string, stream: string) => boolean) | undefined;
  private readonly breaker: CircuitBreaker;
  private readonly handOff: boolean;
  private readonly mesh: PeerMesh | undefined;
  private groupReady: boolean;

  private constructor(plan: readonly PlannedRoute[], options: EngineOptions) {
    super();
    this.breaker = new CircuitBreaker({
      failures: options.faultLimit ?? 3,
      backoffMs: options.faultBackoffMs ?? 1000,
      maxBackoffMs: 60_000,
      onOpen: (route, backoffMs) => this.emit('circuit-open', { route, backoffMs }),
    });
    const events: ExecutorEvents = {
      ready: (executor) => this.scheduler.executorReady(executor),
      exited: (workerId, reason) => this.emit('worker-exit', { workerId, reason }),
      fatal: (error) => this.emit('fatal', error),
      fault: (route, detail) => {
        this.emit('processor-fault', { route, detail });
        this.breaker.fault(route);
      },
    };
    const lanes = new Map<LaneName, Lane>();
    const runsOn = (p: PlannedRoute, name: LaneName) => p.lane === name || (name === 'workers' && p.split);
    for (const name of ['inline', 'workers'] as const) {
      // Each executor loads only the processors of its own lane: no model is loaded where it never runs.
      const specs = plan.filter((p) => runsOn(p, name)).map((p) => p.spec);
      if (specs.length === 0) continue;
      const executors =
        name === 'inline'
          ? [new InlineExecutor(specs, events)]
          : Array.from(
              { length: Math.max(1, options.workers) },
              (_, id) => new WorkerExecutor(id, specs, events, options.workerMaxMemoryMb),
            );
      lanes.set(name, { name, executors });
    }
    this.routes = new Map(
      plan.map((p) => [
        p.route.path,
        {
          lane: lanes.get(p.lane)!,
          workers: p.split ? lanes.get('workers') : undefined,
          processor: p.definition.name,
          stateful: p.definition.stateful === true,
          needs: p.needs,
        },
      ]),
    );
    this.executors = [...lanes.values()].flatMap((lane) => lane.executors);
    this.workerCount = lanes.get('workers')?.executors.length ?? 0;
    this.limits = { maxPixels: options.maxPixels, raw: options.raw ?? {} };
    this.handOff = handsOff(options);
    this.mesh = options.peers === undefined ? undefined : new PeerMesh(options.peers);
    this.groupReady = options.groupReady === undefined;
    options.groupReady?.then(() => {
      this.groupReady = true;
    });
    this.scheduler = new Scheduler({
      lanes: [...lanes.values()],
      maxQueued: options.maxQueuedRequests,
      hungAfterMs: options.hungAfterMs ?? 10_000,
      onFailureDetail: (requestId, code, detail) => this.emit('task-error-detail', { requestId, code, detail }),
    });
  }

  /**
   * Loads every processor module on this thread and validates its options, reporting every problem at once, so a
   * bad configuration fails the boot. Nothing is started yet.
   */
  static async prepare(options: EngineOptions): Promise<InferenceEngine> {
    const resolved = await resolveRoutes(options.routes, options.baseDir);
    const plan = resolved.map((r) => ({
      ...r,
      ...placementOf(r.route.execution ?? options.execution ?? 'auto', r.definition, handsOff(options)),
    }));
    return new InferenceEngine(plan, options);
  }

  /**
   * Everything `prepare` and `start` check, without serving: imports each module, validates its options and creates
   * each processor once on this thread (reading model.json, loading the model), then releases them. What passes here
   * starts in `serve`.
   */
  static async check(routes: readonly EngineRoute[], baseDir?: string): Promise<void> {
    const resolved = await resolveRoutes(routes, baseDir);
    try {
      const runner = await TaskRunner.load(
        resolved.map((r) => r.spec),
        0,
      );
      await runner.dispose();
    } catch (error) {
      throw new HxError('HX_ERR_CONFIG_INVALID', `A processor cannot be created: ${(error as Error).message}`, {
        cause: error,
      });
    }
  }

  /** Starts every executor; rejects with the reason if any cannot load its processors. */
  async start(): Promise<void> {
    await Promise.all([
      ...this.executors.map((executor) => executor.start()),
      this.mesh?.listen((request) => this.inferHere(request)),
    ]);
  }

  state(): EngineState {
    const s = this.scheduler;
    return {
      ready: s.ready && !s.isDraining && this.groupReady,
      draining: s.isDraining,
      queued: s.queued,
      busy: s.busy,
      capacity: s.capacity,
      workers: this.workerCount,
      retryAfterSeconds: s.retryAfterSeconds(),
    };
  }

  /**
   * Says whose frames `answered` events carry the bytes of (a copy, taken before the body goes to a worker): a viewer
   * watching a stream. Every other frame is announced without them, at the cost of the event alone.
   */
  watchFrames(wanted: (route: string, stream: string) => boolean): void {
    this.frameWanted = wanted;
  }

  /** The other processes of this one's supervised group (for a front end that shows the whole group), if any. */
  group(): PeerGroupApi | undefined {
    return this.mesh;
  }

  /** The processor name behind a route (for logs and metrics), undefined for an unknown route. */
  processorOf(route: string): string | undefined {
    return this.routes.get(route)?.processor;
  }

  /** Where each route runs, for the start-up log. */
  lanes(): Record<string, string> {
    return Object.fromEntries(
      [...this.routes].map(([path, entry]) => [
        path,
        entry.workers === undefined
          ? entry.lane.name
          : `${entry.lane.name}, workers ${this.handOff ? 'when busy or ' : ''}over ${INLINE_MAX_PIXELS} pixels`,
      ]),
    );
  }

  /**
   * The refusal a frame for `route` would get now whatever its bytes (draining, its route paused, the queue full),
   * for a front end to answer before it reads the body: under overload, refusing costs a head, not a frame.
   */
  refusalBeforeBody(route: string): HxError | undefined {
    const entry = this.routes.get(route);
    if (entry === undefined) return undefined;
    if (this.scheduler.isDraining) return this.scheduler.capacityError('HX_ERR_CAPACITY_DRAINING', entry.lane);
    const paused = this.breaker.refusal(route, false);
    if (paused !== undefined) {
      return new HxError('HX_ERR_CAPACITY_CIRCUIT_OPEN', undefined, { headers: { 'retry-after': String(paused) } });
    }
    const overflow = entry.workers === undefined ? undefined : entry.workers === entry.lane ? undefined : entry.workers;
    if (this.scheduler.isFull(entry.lane, overflow)) {
      return this.scheduler.capacityError('HX_ERR_CAPACITY_QUEUE_FULL', entry.lane);
    }
    return undefined;
  }

  /**
   * Checks what a request declares before its body is read (the front end calls it as soon as the headers are in):
   * throws the error the frame would get anyway, so a body that cannot be served is not read.
   */
  admitDeclared(route: string, mediaType: string, rawHints: readonly RawGeometrySource[]): void {
    if (!this.routes.has(route)) return;
    admitDeclared(mediaType, rawHints, this.limits);
  }

  async infer(request: InferRequest): Promise<InferOutcome> {
    const entry = this.routeOf(request);
    // A stream's state lives in one process of the group: its frames go there, whichever process they reached.
    const owner = entry.stateful ? this.mesh?.remoteOwner(streamKey(request)) : undefined;
    if (owner !== undefined) return this.mesh!.forward(owner, request);
    return this.inferHere(request);
  }

  /** Checks that come before anything else, wherever the frame then runs. */
  private routeOf(request: InferRequest): RouteEntry {
    const entry = this.routes.get(request.route);
    if (entry === undefined) throw new HxError('HX_ERR_HTTP_NOT_FOUND', `No route at ${request.route}`);
    // Draining comes first: a client refused for it should go elsewhere, whatever its frame.
    if (this.scheduler.isDraining) throw this.scheduler.capacityError('HX_ERR_CAPACITY_DRAINING', entry.lane);
    return entry;
  }

  /** Runs a frame in this process. */
  private async inferHere(request: InferRequest): Promise<InferOutcome> {
    const entry = this.routeOf(request);
    const paused = this.breaker.refusal(request.route);
    if (paused !== undefined) {
      throw new HxError('HX_ERR_CAPACITY_CIRCUIT_OPEN', undefined, { headers: { 'retry-after': String(paused) } });
    }
    const media = admitMedia(request.body, request.mediaType, request.rawHints ?? [], this.limits);
    // Parsed once, here, and carried with the job: a malformed filter is answered before any queue wait.
    const filters = parseFilters(request.query);
    const { lane, overflow } = this.laneFor(entry, media);
    const stream = request.stream ?? '';
    const announce = this.listenerCount('answered') > 0;
    const viewed = stream || request.origin || '';
    // A copy (a Buffer's slice() would be a view): the body itself is transferred to a worker.
    const kept =
      announce && this.frameWanted?.(request.route, viewed) === true ? new Uint8Array(request.body) : undefined;
    const result = await this.scheduler.submit(
      {
        key: request.route,
        body: request.body,
        media,
        query: request.query,
        filters,
        requestId: request.requestId,
        stream,
        ...(request.output === 'image' ? { render: ANNOTATED_MEDIA_TYPE } : {}),
      },
      {
        lane,
        overflow,
        affinity: entry.stateful ? streamKey(request) : undefined,
        deadline: request.deadline,
        signal: request.signal,
        onStart: request.onStart,
      },
    );
    // Any answer that did not fault the executor (faults arrive as executor events) closes the route's breaker.
    if (result.ok || result.error.code !== 'HX_ERR_PROCESSOR_FAILED' || result.detail === undefined) {
      this.breaker.success(request.route);
    }
    if (!result.ok) throw HxError.fromPlain(result.error);
    const image = result.image
      ? { mediaType: result.image.mediaType, bytes: new Uint8Array(result.image.bytes) }
      : undefined;
    if (announce) {
      this.emit('answered', {
        route: request.route,
        stream: viewed,
        requestId: request.requestId,
        media: { kind: media.kind, width: media.width, height: media.height },
        body: kept,
        json: result.json,
        image,
        at: Date.now(),
      });
    }
    return {
      json: result.json,
      ...(image ? { image } : {}),
      inferenceCount: result.inferenceCount,
      labels: result.labels,
      timings: { queueMs: result.queueMs, ...result.timings },
      processor: entry.processor,
    };
  }

  /**
   * A cheap stateless processor's frame runs on the event loop only while nothing else runs (the lowest latency, at
   * low load); under load on the workers, which leaves the event loop to the front end (the higher throughput), with
   * the event loop as the fallback when every worker is busy, for frames whose decode leaves few pixels to process
   * (a JPEG the decoder reduces): under load the event loop is the process's one serial resource, and a frame of
   * full-size pixels (BMP, raw) on it throttles every connection more than it spares a hand-off. A large frame always
   * runs on the workers. Without `handOffUnderLoad` (a process per core) the event loop keeps its frames under load.
   */
  private laneFor(entry: RouteEntry, media: MediaInfo): { lane: Lane; overflow: Lane | undefined } {
    const { workers } = entry;
    if (workers === undefined) return { lane: entry.lane, overflow: undefined };
    switch (splitPlacement(media, entry.needs, this.handOff ? this.scheduler.busy : 0)) {
      case 'event-loop':
        return { lane: entry.lane, overflow: this.handOff ? workers : undefined };
      case 'workers, else event loop':
        return { lane: workers, overflow: entry.lane };
      case 'workers':
        return { lane: workers, overflow: undefined };
    }
  }

  /** Stops admitting: new frames get HX_ERR_CAPACITY_DRAINING, readiness turns false; admitted frames finish. */
  drain(): void {
    this.scheduler.drain();
  }

  /** Resolves when every admitted frame has been answered (or after `timeoutMs`). */
  idle(timeoutMs: number): Promise<void> {
    return this.scheduler.idle(timeoutMs);
  }

  async close(): Promise<void> {
    await Promise.all([this.scheduler.close(), this.mesh?.close()]);
  }
}

/** EngineOptions.handOffUnderLoad, with its default. */
const handsOff = (options: EngineOptions): boolean => options.handOffUnderLoad ?? true;

/** The key a stateful processor keeps one state under. */
const streamKey = (request: InferRequest): string => `${request.route}\n${request.stream ?? ''}`;

type LaneName = 'workers' | 'inline';

interface ResolvedRoute {
  route: EngineRoute;
  spec: WorkerProcessorSpec;
  definition: ProcessorDefinition;
  needs: FrameRequirements;
}

/** Imports each route's processor module and checks its options, collecting every problem before failing. */
async function resolveRoutes(routes: readonly EngineRoute[], baseDir?: string): Promise<ResolvedRoute[]> {
  const problems: string[] = [];
  const resolved: ResolvedRoute[] = [];
  for (const route of routes) {
    try {
      const moduleUrl = resolveProcessorUrl(route.processor, baseDir);
      const definition = await loadProcessor(moduleUrl);
      // Validated whether or not the processor states requirements (an optional call skips its argument).
      const options = processorOptions(definition, route.options);
      const needs = definition.frameRequirements?.(options) ?? {};
      resolved.push({ route, definition, needs, spec: { key: route.path, moduleUrl, options: route.options } });
    } catch (error) {
      problems.push(`route ${route.path} (${route.processor}): ${(error as Error).message}`);
    }
  }
  if (problems.length > 0) {
    throw new HxError('HX_ERR_CONFIG_INVALID', `Invalid processor configuration:\n  - ${problems.join('\n  - ')}`);
  }
  return resolved;
}

interface PlannedRoute extends ResolvedRoute {
  lane: LaneName;
  /** Frames over INLINE_MAX_PIXELS go to the workers instead. */
  split: boolean;
}

/**
 * Frames of a cheap processor up to this size run on the event loop with `auto`; larger ones on workers, where their
 * decode (a 1080p JPEG's takes several milliseconds) does not stall every connection of the process. Between the
 * sizes measured in BENCHMARKS.md: 416x416 frames gain on the event loop, 1080p ones lose.
 */
const INLINE_MAX_PIXELS = 500_000;

/** Under load, the event loop takes a worker lane's frame only if decoding leaves at most this many pixels. */
const OVERFLOW_MAX_PIXELS = 100_000;

/** Where a frame of a split route (a cheap stateless processor under `auto`) runs; the rule is laneFor's. */
export function splitPlacement(
  media: MediaInfo,
  needs: FrameRequirements,
  busy: number,
): 'event-loop' | 'workers, else event loop' | 'workers' {
  if (media.width * media.height > INLINE_MAX_PIXELS) return 'workers';
  if (busy === 0) return 'event-loop';
  const reduction = media.kind === 'jpeg' ? jpegReduction(media, needs) : 1;
  const processed = Math.ceil(media.width / reduction) * Math.ceil(media.height / reduction);
  return processed <= OVERFLOW_MAX_PIXELS ? 'workers, else event loop' : 'workers';
}

/**
 * `auto`: a cheap processor on the event loop (its large frames on workers), the others on workers. A cheap stateful
 * one is not split (one stream's frames must reach one instance): with cores to spare its streams go to the workers,
 * spread by affinity, else they stay on the event loop.
 */
function placementOf(
  execution: Execution,
  definition: ProcessorDefinition,
  spareCores: boolean,
): { lane: LaneName; split: boolean } {
  if (execution !== 'auto') return { lane: execution, split: false };
  if (definition.cheap !== true) return { lane: 'workers', split: false };
  if (definition.stateful === true) return { lane: spareCores ? 'workers' : 'inline', split: false };
  return { lane: 'inline', split: true };
}

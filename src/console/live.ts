import type { ServerResponse } from 'node:http';
import { HxError } from '../errors.js';
import type { ConsoleFrame, FrameRings } from './frame-rings.js';

/**
 * Console viewers on server-sent events: each watches one stream and is told of every frame answered on it (the
 * bytes stay in the rings and are fetched by id, so an event is a few hundred bytes). A viewer whose connection
 * cannot keep up misses frames rather than making us buffer them, viewers are capped, and a comment line every
 * `heartbeatMs` keeps proxies from timing an idle stream out.
 */

/** A viewer this far behind (bytes queued in its socket) skips frames until it catches up. */
const MAX_QUEUED_BYTES = 64 * 1024;
const MAX_STREAM_NAME = 256;

interface Viewer {
  res: ServerResponse;
  stream: string;
  unwatch: () => void;
  skipped: number;
}

export class LiveViewers {
  private readonly viewers = new Set<Viewer>();
  private readonly heartbeat: NodeJS.Timeout;
  /** Called when a viewer comes or goes (the group is told which streams this process watches). */
  onWatchChange: (() => void) | undefined;

  constructor(
    private readonly rings: FrameRings,
    readonly maxViewers = 32,
    heartbeatMs = 15_000,
  ) {
    this.heartbeat = setInterval(() => {
      for (const viewer of this.viewers) viewer.res.write(': keep-alive\n\n');
    }, heartbeatMs);
    this.heartbeat.unref();
  }

  get count(): number {
    return this.viewers.size;
  }

  /** The streams someone watches here. */
  watchedStreams(): string[] {
    return [...new Set([...this.viewers].map((viewer) => viewer.stream))];
  }

  /** True when someone watches `stream` (its frames' bytes are worth copying). */
  watching(stream: string): boolean {
    for (const viewer of this.viewers) if (viewer.stream === stream) return true;
    return false;
  }

  /** Why a viewer of `stream` cannot be taken now (a name too long, the cap reached), for the caller to answer. */
  refusal(stream: string): HxError | undefined {
    if (stream.length > MAX_STREAM_NAME) {
      return new HxError('HX_ERR_HTTP_BAD_QUERY', `stream must be at most ${MAX_STREAM_NAME} characters`);
    }
    if (this.viewers.size >= this.maxViewers) {
      return new HxError('HX_ERR_CAPACITY_VIEWERS', undefined, { headers: { 'retry-after': '5' } });
    }
    return undefined;
  }

  /**
   * Makes `res` an event stream of `stream`'s frames, starting with the ones already kept, here and in `kept`
   * (another process's), oldest first (`refusal` first).
   */
  open(res: ServerResponse, stream: string, kept: readonly ConsoleFrame[] = []): void {
    res.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-store',
      'x-accel-buffering': 'no',
    });
    const viewer: Viewer = { res, stream, unwatch: this.rings.watch(stream), skipped: 0 };
    this.viewers.add(viewer);
    res.on('close', () => {
      this.viewers.delete(viewer);
      viewer.unwatch();
      this.onWatchChange?.();
    });
    this.onWatchChange?.();
    res.write('retry: 2000\n\n');
    const frames = [...this.rings.recent(stream), ...kept].sort((a, b) => a.at - b.at);
    for (const frame of frames) this.send(viewer, frame);
  }

  publish(frame: ConsoleFrame): void {
    for (const viewer of this.viewers) if (viewer.stream === frame.stream) this.send(viewer, frame);
  }

  /** Ends every stream (the server is closing: open event streams would hold its drain). */
  closeAll(): void {
    clearInterval(this.heartbeat);
    for (const viewer of this.viewers) viewer.res.end();
    this.viewers.clear();
  }

  private send(viewer: Viewer, frame: ConsoleFrame): void {
    if (viewer.res.writableLength > MAX_QUEUED_BYTES) {
      viewer.skipped++;
      return;
    }
    viewer.res.write(`event: frame\ndata: ${frameEvent(frame, viewer.skipped)}\n\n`);
  }
}

/** The event's JSON: the answer is spliced in as the engine serialised it, never parsed again. */
export function frameEvent(frame: ConsoleFrame, skipped = 0): string {
  const head = JSON.stringify({
    id: frame.id,
    stream: frame.stream,
    source: frame.source,
    at: frame.at,
    mediaType: frame.mediaType ?? null,
    width: frame.width,
    height: frame.height,
    hasImage: frame.elsewhere?.hasImage ?? (frame.mediaType !== undefined && frame.bytes.byteLength > 0),
    drawn: frame.drawn,
    skipped,
  });
  return `${head.slice(0, -1)},"answer":${frame.json ?? 'null'}}`;
}

import type { ConsoleFrame, FrameIds, FrameRings, StreamSummary } from '../../console/frame-rings.js';
import type { LiveViewers } from '../../console/live.js';
import type { EngineGroup, EngineState } from '../../inference/engine.js';
import type { RouteFigures } from '../../observability/metrics.js';

/** What one process says of itself on the console's state. */
export interface ProcessView {
  engine: EngineState;
  figures: Record<string, RouteFigures>;
  streams: StreamSummary[];
  viewers: number;
  heldBytes: number;
}

/** Frame ids in a group of `count`: process i hands out i+1, i+1+count, ..., so an id names the process holding it. */
export const frameIdsOf = (group: Pick<EngineGroup, 'index' | 'count'>): FrameIds => ({
  first: group.index + 1,
  step: group.count,
});

/** A kept frame's image, if it has one. */
export function imageOf(rings: FrameRings, id: number): { mediaType: string; bytes: Uint8Array } | undefined {
  const frame = rings.frame(id);
  if (frame === undefined || frame.mediaType === undefined || frame.bytes.byteLength === 0) return undefined;
  return { mediaType: frame.mediaType, bytes: frame.bytes };
}

type FrameMeta = Omit<ConsoleFrame, 'bytes' | 'elsewhere'> & { hasImage: boolean };

const metaOf = ({ bytes, elsewhere, ...frame }: ConsoleFrame): FrameMeta => ({
  ...frame,
  hasImage: elsewhere?.hasImage ?? (frame.mediaType !== undefined && bytes.byteLength > 0),
});

const frameOf = ({ hasImage, ...meta }: FrameMeta): ConsoleFrame => ({
  ...meta,
  bytes: new Uint8Array(0),
  elsewhere: { hasImage },
});

/**
 * The console of one process of a supervised group, showing the whole group: a viewer's connection reaches any
 * process, and the frames of its stream are answered by any. Each process keeps the frames it answered (bytes only
 * for streams someone in the group watches) and tells the processes whose viewers watch a stream of each new frame;
 * the bytes stay with the process that holds them and are fetched from it by id. The state is every process's,
 * summed. A process that is starting or restarting is left out until it answers.
 */
export class ConsoleGroup {
  /** Per other process, the streams its viewers watch, each with the watch it holds on our rings. */
  private readonly remote = new Map<number, Map<string, () => void>>();

  constructor(
    private readonly group: EngineGroup,
    private readonly rings: FrameRings,
    live: LiveViewers,
    local: () => Promise<ProcessView>,
  ) {
    group.answer('console-state', async () => ({ payload: await local() }));
    group.answer('console-recent', (stream) => ({ payload: rings.recent(String(stream)).map(metaOf) }));
    group.answer('console-bytes', (id) => {
      const image = imageOf(rings, Number(id));
      return { payload: image?.mediaType ?? null, body: image?.bytes };
    });
    group.answer('console-watching', () => ({ payload: live.watchedStreams() }));
    group.hear('console-watch', (streams, from) => this.watchedBy(from, streams as string[]));
    group.hear('console-frame', (meta) => live.publish(frameOf(meta as FrameMeta)));
    live.onWatchChange = () => group.tell('console-watch', live.watchedStreams());
    // A process that replaces one that died tells the others its viewers are gone, and learns theirs.
    group.tell('console-watch', []);
    for (let peer = 0; peer < group.count; peer++) {
      if (peer === group.index) continue;
      group.ask(peer, 'console-watching', null).then(
        (answer) => this.watchedBy(peer, answer.payload as string[]),
        () => {},
      );
    }
  }

  /** Someone in another process watches `stream`: its frames' bytes are worth keeping here. */
  watchedElsewhere(stream: string): boolean {
    for (const streams of this.remote.values()) if (streams.has(stream)) return true;
    return false;
  }

  /** A frame this process answered: the processes whose viewers watch its stream hear of it. */
  announce(frame: ConsoleFrame): void {
    for (const [peer, streams] of this.remote) {
      if (streams.has(frame.stream)) this.group.tell('console-frame', metaOf(frame), peer);
    }
  }

  /** The frames of `stream` the other processes keep (for a viewer that opens here). */
  async recent(stream: string): Promise<ConsoleFrame[]> {
    const answers = await this.group.askAll('console-recent', stream);
    return answers.flatMap((answer) => (answer.payload as FrameMeta[]).map(frameOf));
  }

  /** A frame's bytes, from the process whose id it carries. */
  async bytes(id: number): Promise<{ mediaType: string; bytes: Uint8Array } | undefined> {
    const holder = (id - 1) % this.group.count;
    if (holder === this.group.index) return imageOf(this.rings, id);
    const answer = await this.group.ask(holder, 'console-bytes', id).catch(() => undefined);
    return typeof answer?.payload === 'string' ? { mediaType: answer.payload, bytes: answer.body } : undefined;
  }

  /** This process's view merged with every other's that answers. */
  async state(own: ProcessView): Promise<ProcessView & { processes: number }> {
    const others = (await this.group.askAll('console-state', null)).map((answer) => answer.payload as ProcessView);
    return { ...mergeViews([own, ...others]), processes: others.length + 1 };
  }

  private watchedBy(peer: number, streams: readonly string[]): void {
    const held = this.remote.get(peer) ?? new Map<string, () => void>();
    this.remote.set(peer, held);
    const wanted = new Set(streams);
    for (const [stream, unwatch] of held) {
      if (wanted.has(stream)) continue;
      unwatch();
      held.delete(stream);
    }
    for (const stream of wanted) if (!held.has(stream)) held.set(stream, this.rings.watch(stream));
  }
}

/** The group's view: counts summed, readiness only when every process is ready, streams merged by name. */
export function mergeViews(views: readonly ProcessView[]): ProcessView {
  const [first, ...rest] = views;
  if (first === undefined) throw new Error('mergeViews needs at least one view');
  const engine = { ...first.engine };
  const figures: Record<string, RouteFigures> = structuredClone(first.figures);
  const streams = new Map(first.streams.map((s) => [s.stream, { ...s }]));
  let { viewers, heldBytes } = first;
  for (const view of rest) {
    const e = view.engine;
    engine.ready &&= e.ready;
    engine.draining ||= e.draining;
    engine.queued += e.queued;
    engine.busy += e.busy;
    engine.capacity += e.capacity;
    engine.workers += e.workers;
    engine.retryAfterSeconds = Math.max(engine.retryAfterSeconds, e.retryAfterSeconds);
    for (const [route, f] of Object.entries(view.figures)) {
      const into = figures[route];
      if (into === undefined) {
        figures[route] = structuredClone(f);
        continue;
      }
      for (const [status, n] of Object.entries(f.statuses)) into.statuses[status] = (into.statuses[status] ?? 0) + n;
      // Every process has the same buckets, in the same order.
      f.buckets.forEach(([, n], i) => {
        const bucket = into.buckets[i];
        if (bucket !== undefined) bucket[1] += n;
      });
      into.count += f.count;
      into.sum += f.sum;
    }
    for (const s of view.streams) {
      const into = streams.get(s.stream);
      if (into === undefined) streams.set(s.stream, { ...s });
      else {
        into.received += s.received;
        into.watchers += s.watchers;
        if (s.lastAt > into.lastAt) Object.assign(into, { lastAt: s.lastAt, lastSource: s.lastSource });
      }
    }
    viewers += view.viewers;
    heldBytes += view.heldBytes;
  }
  const merged = [...streams.values()].sort((a, b) => b.lastAt - a.lastAt);
  return { engine, figures, streams: merged, viewers, heldBytes };
}

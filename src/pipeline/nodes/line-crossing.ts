import type { MediaItem, RuntimeNode } from '../graph.js';
import type { LineCrossingSpec } from '../node-specs.js';
import { LineCounter } from '../tracking/line-counter.js';
import { hexId } from './object-tracking.js';

/**
 * `LineCrossingProcessor`: counts the tracked objects (entity inferences with a `sequenceId`, from the tracker)
 * that cross each named line, from pipeline activation, and emits one `lineCrossing` event inference per crossing
 * as the vendor did: `event.name` = the line's name, `properties` the direction and the running totals (strings),
 * `relatedInferences` the tracked entity's inferenceId. Frames go on unchanged.
 */
export class LineCrossingNode implements RuntimeNode {
  private readonly counters: { name: string; counter: LineCounter }[];

  constructor(
    readonly name: string,
    spec: LineCrossingSpec,
    private readonly emit: (item: MediaItem) => Promise<void>,
  ) {
    this.counters = spec.lines.map((line) => ({ name: line.name, counter: new LineCounter(line.start, line.end) }));
  }

  async receive(item: MediaItem): Promise<void> {
    if (item.kind !== 'event') {
      await this.emit(item);
      return;
    }
    const inferences = item.event.body.inferences;
    if (!Array.isArray(inferences)) return;
    const events: unknown[] = [];
    for (const raw of inferences) {
      const inference = raw as {
        type?: unknown;
        inferenceId?: unknown;
        sequenceId?: unknown;
        entity?: { id?: unknown; box?: { l?: unknown; t?: unknown; w?: unknown; h?: unknown } };
      };
      if (inference?.type !== 'entity') continue;
      const id = typeof inference.sequenceId === 'string' ? inference.sequenceId : inference.entity?.id;
      const box = inference.entity?.box;
      if (typeof id !== 'string' || box === undefined) continue;
      const { l, t, w, h } = box;
      if (typeof l !== 'number' || typeof t !== 'number' || typeof w !== 'number' || typeof h !== 'number') continue;
      const centre = [l + w / 2, t + h / 2] as const;
      for (const { name, counter } of this.counters) {
        const crossing = counter.observe(id, centre, item.event.pts90k);
        if (crossing === undefined) continue;
        events.push({
          type: 'event',
          subtype: 'lineCrossing',
          inferenceId: hexId(),
          ...(typeof inference.inferenceId === 'string' ? { relatedInferences: [inference.inferenceId] } : {}),
          event: {
            name,
            properties: {
              direction: crossing.direction,
              clockwiseTotal: String(crossing.clockwiseTotal),
              counterclockwiseTotal: String(crossing.counterclockwiseTotal),
              total: String(crossing.total),
            },
          },
        });
      }
    }
    if (events.length > 0) {
      await this.emit({
        kind: 'event',
        event: { node: this.name, pts90k: item.event.pts90k, body: { inferences: events } },
      });
    }
  }

  async end(): Promise<void> {}
}

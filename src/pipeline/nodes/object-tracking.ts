import { randomUUID } from 'node:crypto';
import type { MediaItem, RuntimeNode } from '../graph.js';
import type { TrackingSpec } from '../node-specs.js';
import { ByteTracker, type Detection, type Track } from '../tracking/byte-tracker.js';

/** 32 hex digits, the shape of the vendor's inferenceIds. */
export function hexId(): string {
  return randomUUID().replaceAll('-', '');
}

/** The `entity` inferences of an extension's answer, as detections (other inference types are not tracked). */
export function detectionsOf(inferences: readonly unknown[]): (Detection & { subtype?: string })[] {
  const out: (Detection & { subtype?: string })[] = [];
  for (const raw of inferences) {
    const inference = raw as {
      type?: unknown;
      subtype?: unknown;
      entity?: { tag?: { value?: unknown; confidence?: unknown }; box?: Record<string, unknown> };
    };
    if (inference?.type !== 'entity') continue;
    const box = inference.entity?.box;
    const tag = inference.entity?.tag;
    if (box === undefined || tag === undefined) continue;
    const { l, t, w, h } = box;
    if (typeof l !== 'number' || typeof t !== 'number' || typeof w !== 'number' || typeof h !== 'number') continue;
    if (!(w > 0 && h > 0)) continue;
    out.push({
      box: { l, t, w, h },
      score: typeof tag.confidence === 'number' ? tag.confidence : 1,
      label: typeof tag.value === 'string' ? tag.value : '',
      ...(typeof inference.subtype === 'string' ? { subtype: inference.subtype } : {}),
    });
  }
  return out;
}

/**
 * `ObjectTrackingProcessor`: tracks the entities its extension detects on sampled frames across every frame it
 * receives (ByteTrack, `tracking/byte-tracker.ts`), and reports on each frame the tracked objects as the vendor did:
 * `entity` inferences with a new `inferenceId`, the object's `sequenceId` (the same for as long as it is tracked)
 * and `entity.id` (a short per-pipeline number, never reused). The extension's own events stop here; frames go on
 * with the tracked inferences as their annotations.
 *
 * Detections reach it as the extension's events. As fast as possible, an answer comes just before its frame; live,
 * it comes with a later frame and is applied there (the box is then a few frames old).
 */
export class ObjectTrackingNode implements RuntimeNode {
  private readonly tracker: ByteTracker;
  private pending: Detection[] | undefined;
  private lastSubtype = 'objectDetection';

  constructor(
    readonly name: string,
    spec: TrackingSpec,
    private readonly upstream: readonly string[],
    private readonly emit: (item: MediaItem) => Promise<void>,
  ) {
    this.tracker = new ByteTracker(spec.accuracy);
  }

  async receive(item: MediaItem, from: string): Promise<void> {
    if (item.kind === 'event') {
      const inferences = item.event.body.inferences;
      if (!this.upstream.includes(from) || !Array.isArray(inferences)) return;
      const detections = detectionsOf(inferences);
      for (const d of detections) if (d.subtype !== undefined) this.lastSubtype = d.subtype;
      this.pending = [...(this.pending ?? []), ...detections];
      return;
    }
    if (item.kind !== 'frame') {
      await this.emit(item);
      return;
    }
    const { frame } = item;
    this.tracker.advance(frame.pts90k);
    const answered = item.analysedBy?.some((n) => this.upstream.includes(n)) ?? false;
    if (this.pending !== undefined || answered) {
      this.tracker.update(this.pending ?? []);
      this.pending = undefined;
    }
    const inferences = this.tracker.active().map((t) => this.inference(t));
    if (inferences.length > 0) {
      await this.emit({ kind: 'event', event: { node: this.name, pts90k: frame.pts90k, body: { inferences } } });
    }
    await this.emit({ ...item, annotations: inferences });
  }

  async end(): Promise<void> {}

  private inference(track: Track): Record<string, unknown> {
    return {
      type: 'entity',
      // The extension's subtype (objectDetection for /detect), as the vendor's tracker kept it.
      subtype: this.lastSubtype,
      inferenceId: hexId(),
      sequenceId: track.sequenceId,
      entity: { id: track.id, tag: { value: track.label, confidence: track.score }, box: track.box },
    };
  }
}

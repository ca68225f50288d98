import type { AccessUnit } from './mpegts.js';
import type { MessageNaming, PipelineMessage } from './pipeline-message.js';
import { type OutputSelector, selects } from './topology.js';
import type { VideoFrame } from './video-source.js';

/**
 * What flows along the edges of a running topology. Decoded frames (for analysis) and compressed packets (for
 * recording) are both the vendor's `video` media type; events (analytics results, hub messages) are `application`,
 * which is what `outputSelectors` select on.
 */
export type MediaItem =
  /** `analysedBy`: the extension nodes that answered for this frame (as-fast-as-possible mode only). */
  | { kind: 'frame'; frame: VideoFrame; annotations: readonly unknown[]; analysedBy?: readonly string[] }
  | { kind: 'packet'; packet: AccessUnit; header: Buffer }
  | { kind: 'event'; event: AnalyticsEvent }
  /** A signal gate opens (`start`, before the first packet it lets through) or closes (`end`). */
  | { kind: 'segment'; phase: 'start' | 'end'; header?: Buffer; startedAt?: Date };

/** An analytics result on its way to a hub sink (or a gate): `body` is published as it is, with `timestamp`. */
export interface AnalyticsEvent {
  /** The node that produced it: the message's subject, as the vendor's sinks did. */
  node: string;
  pts90k: number;
  body: Record<string, unknown>;
}

export function mediaTypeOf(item: MediaItem): 'video' | 'application' {
  return item.kind === 'event' ? 'application' : 'video';
}

/** A node of a running pipeline. `receive` resolves when the item has been handled (back-pressure). */
export interface RuntimeNode {
  readonly name: string;
  receive(item: MediaItem, from: string): void | Promise<void>;
  /** Every upstream node has ended: finish work in flight and flush; it may still emit before resolving. */
  end(): Promise<void>;
  /** What an operator wants to know of it now (a gate open, a recording running), for the console. */
  status?(): string;
}

/** What every node gets: how to name messages, where diagnostics and operational events go, the log. */
export interface NodeContext {
  naming: MessageNaming;
  topologyName: string;
  /** Diagnostics and operational events (the vendor routed them to module outputs, not through sinks). */
  publish(message: PipelineMessage): Promise<void>;
  notice(message: string): void;
  /** Ends the pipeline for a failure that retrying cannot cure (a 401 from the extension, a missing camera). */
  fail(error: Error): void;
  /** An extension node's answer to a frame (for the console): `body` as published, undefined for "no result". */
  answered(node: string, frame: VideoFrame, body: Readonly<Record<string, unknown>> | undefined): void;
}

interface Edge {
  target: RuntimeNode;
  selectors: readonly OutputSelector[];
}

/** Wires nodes by their inputs: `emitter(name)` delivers to the nodes that read `name`, through their selectors. */
export class Wiring {
  private readonly edges = new Map<string, Edge[]>();

  connect(from: string, target: RuntimeNode, selectors: readonly OutputSelector[]): void {
    const list = this.edges.get(from) ?? [];
    list.push({ target, selectors });
    this.edges.set(from, list);
  }

  /** Whether `from` feeds anything that gets items of this media type. */
  feeds(from: string, mediaType: 'video' | 'application'): boolean {
    return (this.edges.get(from) ?? []).some((e) => selects(e.selectors, mediaType));
  }

  emitter(from: string): (item: MediaItem) => Promise<void> {
    return async (item) => {
      const edges = this.edges.get(from);
      if (edges === undefined) return;
      const type = mediaTypeOf(item);
      const pending: Promise<void>[] = [];
      for (const edge of edges) {
        if (!selects(edge.selectors, type)) continue;
        const result = edge.target.receive(item, from);
        if (result !== undefined) pending.push(result);
      }
      if (pending.length > 0) await Promise.all(pending);
    };
  }
}

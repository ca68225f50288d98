import type { MediaItem, NodeContext, RuntimeNode } from './graph.js';
import { type EncodedImage, encodeFrame } from './image-encoder.js';
import { protocolErrorMessage, unpadInferences } from './pipeline-message.js';
import { PtsSampler } from './sampler.js';
import type { ExtensionSpec } from './topology.js';
import type { VideoFrame } from './video-source.js';

export interface NodeCounters {
  /** Frames that passed the sampling caps. */
  sampled: number;
  /** Sampled frames not sent: the frames in flight were at their bound, or the node was backing off. */
  dropped: number;
  sent: number;
  /** Answers: HTTP 200 and 204, gRPC acks. */
  answered: number;
  /** Error answers and transport failures (each one a ProtocolError diagnostics event). */
  errors: number;
  /** Messages the pipeline published (every sink, diagnostics included). */
  published: number;
}

export interface ExtensionNodeOptions {
  /** Back-off after a 503 without Retry-After, or after a gRPC stream failed. */
  retryAfterDefaultSecs: number;
  requestTimeoutMs: number;
  /** Live: never wait for an answer (busy = drop). Else wait for each answer before taking the next frame. */
  live: boolean;
}

/**
 * What the HTTP and gRPC extension nodes share: sampling by PTS, scaling and encoding, the bound on frames in
 * flight (live: a sampled frame that finds it reached is dropped and counted; files: each frame waits for its answer),
 * back-off, and publishing answers and protocol errors. Every frame goes on downstream, as the vendor's nodes passed
 * them on (a sampled one with its answer attached when the runner waits for answers).
 */
export abstract class ExtensionNode implements RuntimeNode {
  readonly counters: NodeCounters = { sampled: 0, dropped: 0, sent: 0, answered: 0, errors: 0, published: 0 };
  readonly name: string;
  private readonly samplers: PtsSampler[];
  private readonly inFlight = new Set<Promise<void>>();
  protected backoffUntil = 0;

  constructor(
    readonly spec: ExtensionSpec,
    protected readonly context: NodeContext,
    protected readonly emit: (item: MediaItem) => Promise<void>,
    protected readonly options: ExtensionNodeOptions,
    /** Frames in flight at most, in live mode. */
    private readonly window: number,
  ) {
    this.name = spec.name;
    this.samplers = spec.maximumSamplesPerSecond.map((rate) => new PtsSampler(rate));
  }

  /** Sends an encoded frame and resolves with its inferences once answered (undefined: none, or it failed). */
  protected abstract send(frame: VideoFrame, image: EncodedImage): Promise<unknown[] | undefined>;

  /** Releases connections (called once no frame is in flight). */
  protected abstract release(): Promise<void>;

  async receive(item: MediaItem): Promise<void> {
    if (item.kind !== 'frame') return;
    if (this.spec.skipSamplesWithoutAnnotation && item.annotations.length === 0) {
      await this.emit(item);
      return;
    }
    if (this.options.live) {
      this.offer(item.frame);
      await this.emit(item);
      return;
    }
    const inferences = await this.process(item.frame);
    if (inferences === undefined) {
      await this.emit(item);
      return;
    }
    // `analysedBy` tells a tracker that this frame had an answer, even an empty one (nobody in sight).
    await this.emit({
      ...item,
      annotations: [...item.annotations, ...inferences],
      analysedBy: [...(item.analysedBy ?? []), this.name],
    });
  }

  async end(): Promise<void> {
    await this.close();
  }

  private sample(frame: VideoFrame): boolean {
    for (const sampler of this.samplers) if (!sampler.accept(frame.pts90k)) return false;
    this.counters.sampled++;
    return true;
  }

  /** Live mode: never waits. A sampled frame that finds the window full (or a back-off) is dropped. */
  offer(frame: VideoFrame): void {
    if (!this.sample(frame)) return;
    if (this.inFlight.size >= this.window || Date.now() < this.backoffUntil) {
      this.counters.dropped++;
      return;
    }
    const done: Promise<void> = this.encodeAndSend(frame)
      .then(
        () => {},
        (error: unknown) => this.context.notice(`${this.spec.name}: ${String(error)}`),
      )
      .finally(() => this.inFlight.delete(done));
    this.inFlight.add(done);
  }

  /**
   * As-fast-as-possible mode: waits out a back-off and the answer, so no frame is dropped; returns the inferences
   * ([] for an answer without any), undefined when the frame was not sampled or the request failed.
   */
  async process(frame: VideoFrame): Promise<unknown[] | undefined> {
    if (!this.sample(frame)) return undefined;
    const wait = this.backoffUntil - Date.now();
    if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
    return this.encodeAndSend(frame);
  }

  /** Resolves when no frame is in flight. */
  async idle(): Promise<void> {
    while (this.inFlight.size > 0) await Promise.all([...this.inFlight]);
  }

  async close(): Promise<void> {
    await this.idle();
    await this.release();
  }

  private async encodeAndSend(frame: VideoFrame): Promise<unknown[] | undefined> {
    let image: EncodedImage;
    try {
      image = await encodeFrame(frame.rgb, frame.width, frame.height, this.spec.scale, this.spec.format);
    } catch (error) {
      this.context.notice(`${this.spec.name}: cannot encode a frame: ${String(error)}`);
      return undefined;
    }
    this.counters.sent++;
    return this.send(frame, image);
  }

  /** An answer's inferences, mapped back from the padded image in `pad` mode. */
  protected unpad(inferences: unknown[], image: EncodedImage): unknown[] {
    return this.spec.scale?.mode === 'pad' ? unpadInferences(inferences, image.placement) : inferences;
  }

  /** An analytics event downstream (to hub sinks and gates), stamped with the frame's PTS. */
  protected async answer(frame: VideoFrame, body: Record<string, unknown>): Promise<void> {
    this.context.answered(this.spec.name, frame, body);
    await this.emit({ kind: 'event', event: { node: this.spec.name, pts90k: frame.pts90k, body } });
  }

  /** An answer without inferences (HTTP 204, an empty ack): nothing is published, but the frame was analysed. */
  protected nothingFound(frame: VideoFrame): unknown[] {
    this.context.answered(this.spec.name, frame, undefined);
    return [];
  }

  /** A ProtocolError diagnostics event, counted as an error. */
  protected async protocolError(protocol: 'http' | 'grpc', code: string, message: string): Promise<void> {
    this.counters.errors++;
    await this.context.publish(protocolErrorMessage(this.context.naming, this.spec.name, code, message, protocol));
  }
}

import { isAbsolute, join } from 'node:path';
import type { ExtensionNode, NodeCounters } from './extension-node.js';
import { type MediaItem, type NodeContext, type RuntimeNode, Wiring } from './graph.js';
import { GrpcExtensionNode } from './grpc-extension-node.js';
import { HttpExtensionNode } from './http-extension-node.js';
import type { MessageSink } from './message-sink.js';
import { FileSinkNode } from './nodes/file-sink.js';
import { FrameRateFilterNode } from './nodes/frame-rate-filter.js';
import { HubMessageSinkNode } from './nodes/hub-message-sink.js';
import { type HubInput, HubMessageSourceNode } from './nodes/hub-message-source.js';
import { LineCrossingNode } from './nodes/line-crossing.js';
import { MotionDetectionNode } from './nodes/motion-detection.js';
import { ObjectTrackingNode } from './nodes/object-tracking.js';
import { SignalGateNode } from './nodes/signal-gate.js';
import { VideoSinkNode } from './nodes/video-sink.js';
import { namingFor, nodeEvent, type PipelineMessage } from './pipeline-message.js';
import type { NodeSpec, PipelinePlan } from './topology.js';
import { PermanentSourceError, type SourceOutputs, type VideoFrame, VideoSource } from './video-source.js';

export interface RunnerOptions {
  /** Live pacing: files play at their native rate and busy nodes drop frames. False: as fast as the extension answers. */
  realtime: boolean;
  ffmpegPath?: string;
  retryAfterDefaultSecs: number;
  requestTimeoutMs: number;
  reconnectDelayMs?: number;
  stallTimeoutMs?: number;
  /** `--media-root`: every absolute path a topology names is resolved under it. */
  mediaRoot?: string;
  /** AVA subjects' `/edgeModules/{moduleName}` (default avaedge) and the messages' `topic` (see `namingFor`). */
  moduleName?: string;
  topic?: string;
  /** Where `IotHubMessageSource` nodes read messages from (the MQTT broker of `--mqtt-url`). */
  hubInput?: HubInput;
  onNotice?: (message: string) => void;
  /** Each answer an extension node got, with the frame it was for (the console shows them). */
  onAnswer?: (node: string, frame: VideoFrame, body: Readonly<Record<string, unknown>> | undefined) => void;
}

export interface RunnerCounters extends NodeCounters {
  read: number;
  /** Recordings finished by recording sinks (present when the topology has one). */
  recordings?: number;
  /** Segments written by video / asset sinks (present when the topology has one). */
  segments?: number;
}

/** A topology path under `--media-root` (`/var/media` -> `ROOT/var/media`); relative paths and no root: as written. */
export function mediaPath(path: string, mediaRoot: string | undefined): string {
  return mediaRoot !== undefined && isAbsolute(path) ? join(mediaRoot, path) : path;
}

const RECORDS_PACKETS: readonly string[] = ['SignalGateProcessor', 'VideoSink', 'AssetSink'];

/** Motion detection works on a 160-pixel-wide thumbnail: twice that keeps its block averaging as it was. */
const MOTION_FRAME_WIDTH = 320;

/** Nodes that read a processor's output for its events only: the frames it passes on go no further there. */
const IGNORES_FRAMES: readonly string[] = ['SignalGateProcessor', 'IotHubMessageSink'];

/**
 * The width decoded frames need, when every node that gets them works on a smaller copy anyway: motion detection,
 * and HTTP extensions that fit frames inside WxH (`pad`, `preserveAspectRatio` with a width), whose content is then
 * at most W wide, so that a 1080p camera is scaled by ffmpeg before the pipe instead of piped at full size. Any other
 * reader of frames (a stretch, native size, a node type not listed here) gets the camera's own frames.
 */
export function frameWidthFor(plan: PipelinePlan): number | undefined {
  const readersOf = (name: string) => plan.nodes.filter((n) => n.inputs.some((i) => i.nodeName === name));
  const pending = readersOf(plan.source.name).filter((n) => !RECORDS_PACKETS.includes(n.type));
  const seen = new Set<string>();
  let width = 0;
  for (let node = pending.shift(); node !== undefined; node = pending.shift()) {
    if (seen.has(node.name)) continue;
    seen.add(node.name);
    if (node.type === 'MotionDetectionProcessor') width = Math.max(width, MOTION_FRAME_WIDTH);
    else if (node.type === 'HttpExtension' || node.type === 'GrpcExtension') {
      const scale = node.extension.scale;
      if (scale?.width === undefined || scale.mode === 'stretch') return undefined;
      width = Math.max(width, scale.width);
    } else if (node.type !== 'FrameRateFilterProcessor') return undefined;
    pending.push(...readersOf(node.name).filter((r) => !IGNORES_FRAMES.includes(r.type)));
  }
  return width > 0 ? width : undefined;
}

/** Which of the source's outputs its readers need: decoded frames (analysis), packets (recording), at what size. */
function sourceOutputs(plan: PipelinePlan): SourceOutputs {
  const readers = plan.nodes.filter((n) => n.inputs.some((i) => i.nodeName === plan.source.name));
  const maxFrameWidth = frameWidthFor(plan);
  return {
    frames: readers.some((n) => !RECORDS_PACKETS.includes(n.type)),
    packets: readers.some((n) => RECORDS_PACKETS.includes(n.type)),
    ...(maxFrameWidth === undefined ? {} : { maxFrameWidth }),
  };
}

/** One live pipeline: a topology with its parameters, its nodes wired by their inputs, from the source to the sinks. */
export class PipelineRunner {
  readonly source: VideoSource;
  readonly nodes: RuntimeNode[] = [];
  readonly extensions: ExtensionNode[] = [];
  private readonly hubSources: HubMessageSourceNode[] = [];
  private readonly fileSinks: FileSinkNode[] = [];
  private readonly videoSinks: VideoSinkNode[] = [];
  private read = 0;
  private published = 0;
  private clock = 0;
  /** Wall-clock time of media time 0 in 90 kHz ticks since the epoch, set when the first media arrives. */
  private epoch90k = Date.now() * 90;
  private started = false;
  private stopping = false;
  private failure: Error | undefined;
  private outcome: { state: 'ended' | 'failed'; detail: string } | undefined;
  /** A camera cannot be slowed down: as-fast-as-possible applies to files only. */
  private readonly live: boolean;
  private readonly emitFromSource: (item: MediaItem) => Promise<void>;
  private readonly context: NodeContext;

  constructor(
    readonly plan: PipelinePlan,
    readonly name: string,
    sink: MessageSink,
    options: RunnerOptions,
  ) {
    const notice = (m: string) => options.onNotice?.(`${name}: ${m}`);
    this.live = options.realtime || plan.source.kind === 'rtsp';
    this.source = new VideoSource(plan.source, {
      realtime: options.realtime,
      outputs: sourceOutputs(plan),
      ...(options.ffmpegPath === undefined ? {} : { ffmpegPath: options.ffmpegPath }),
      ...(options.reconnectDelayMs === undefined ? {} : { reconnectDelayMs: options.reconnectDelayMs }),
      ...(options.stallTimeoutMs === undefined ? {} : { stallTimeoutMs: options.stallTimeoutMs }),
      onNotice: notice,
    });
    const counting: MessageSink = {
      publish: async (message: PipelineMessage) => {
        await sink.publish(message);
        this.published++;
      },
      close: () => sink.close(),
    };
    const naming = namingFor(plan.apiVersion, name, {
      ...(options.moduleName === undefined ? {} : { moduleName: options.moduleName }),
      ...(options.topic === undefined ? {} : { topic: options.topic }),
      epoch90k: () => this.epoch90k,
    });
    const context: NodeContext = {
      naming,
      topologyName: plan.topologyName,
      publish: async (message) => {
        try {
          await counting.publish(message);
        } catch (error) {
          notice(`cannot publish: ${String(error)}`);
        }
      },
      notice,
      fail: (error) => {
        this.failure ??= error;
        this.stop();
      },
      answered: (node, frame, body) => options.onAnswer?.(node, frame, body),
    };
    this.context = context;
    const wiring = new Wiring();
    const byName = new Map<string, RuntimeNode>();
    // Downstream first, so that each node's readers exist when it is wired.
    for (const spec of [...plan.nodes].reverse()) {
      const node = this.create(spec, context, wiring, counting, options);
      if (node === undefined) continue;
      byName.set(spec.name, node);
      this.nodes.unshift(node);
    }
    for (const spec of plan.nodes) {
      for (const input of spec.inputs) wiring.connect(input.nodeName, byName.get(spec.name)!, input.selectors);
    }
    for (const spec of plan.nodes) {
      if ((spec.type === 'HttpExtension' || spec.type === 'GrpcExtension') && !wiring.feeds(spec.name, 'application')) {
        notice(`node "${spec.name}" feeds no sink: its results are not published`);
      }
    }
    this.emitFromSource = wiring.emitter(plan.source.name);
  }

  private create(
    spec: NodeSpec,
    context: NodeContext,
    wiring: Wiring,
    sink: MessageSink,
    options: RunnerOptions,
  ): RuntimeNode | undefined {
    const emit = wiring.emitter(spec.name);
    switch (spec.type) {
      case 'RtspSource':
        return undefined; // the runner's own loop
      case 'IotHubMessageSource': {
        const node = new HubMessageSourceNode(
          spec.hubSource,
          this.name,
          emit,
          context,
          options.hubInput,
          () => this.clock,
        );
        this.hubSources.push(node);
        return node;
      }
      case 'HttpExtension':
      case 'GrpcExtension': {
        const nodeOptions = {
          retryAfterDefaultSecs: options.retryAfterDefaultSecs,
          requestTimeoutMs: options.requestTimeoutMs,
          live: this.live,
        };
        const node =
          spec.type === 'HttpExtension'
            ? new HttpExtensionNode(spec.extension, context, emit, nodeOptions)
            : new GrpcExtensionNode(spec.extension, context, emit, nodeOptions);
        this.extensions.push(node);
        return node;
      }
      case 'FrameRateFilterProcessor':
        return new FrameRateFilterNode(spec.name, spec.maximumFps, emit);
      case 'MotionDetectionProcessor':
        return new MotionDetectionNode(spec.name, spec.motion, emit);
      case 'SignalGateProcessor':
        return new SignalGateNode(spec.name, spec.gate, emit, context.notice, () => this.epoch90k / 90);
      case 'ObjectTrackingProcessor':
        return new ObjectTrackingNode(
          spec.name,
          spec.tracking,
          spec.inputs.map((i) => i.nodeName),
          emit,
        );
      case 'LineCrossingProcessor':
        return new LineCrossingNode(spec.name, spec.lineCrossing, emit);
      case 'IotHubMessageSink':
        return new HubMessageSinkNode(spec.sink, context.naming, sink, context.notice);
      case 'FileSink': {
        const node = new FileSinkNode(spec.file, context, {
          directory: mediaPath(spec.file.baseDirectoryPath, options.mediaRoot),
          pipelineName: this.name,
          ...(options.ffmpegPath === undefined ? {} : { ffmpegPath: options.ffmpegPath }),
        });
        this.fileSinks.push(node);
        return node;
      }
      case 'VideoSink':
      case 'AssetSink': {
        const node = new VideoSinkNode(spec.video, context, {
          directory: mediaPath(spec.video.localMediaCachePath, options.mediaRoot),
          pipelineName: this.name,
          ...(options.ffmpegPath === undefined ? {} : { ffmpegPath: options.ffmpegPath }),
        });
        this.videoSinks.push(node);
        return node;
      }
    }
  }

  /** Media time 0 on the absolute 90 kHz clock (ticks since the epoch): `timestamp - origin90k` is media time. */
  get origin90k(): number {
    return this.epoch90k;
  }

  /** Totals over the pipeline's extension nodes, the frames read from the source and the messages published. */
  counters(): RunnerCounters {
    const total: RunnerCounters = {
      read: this.read,
      sampled: 0,
      dropped: 0,
      sent: 0,
      answered: 0,
      errors: 0,
      published: this.published,
    };
    for (const node of this.extensions) {
      for (const key of Object.keys(node.counters) as (keyof NodeCounters)[]) {
        if (key !== 'published') total[key] += node.counters[key];
      }
    }
    const recorders = [...this.fileSinks, ...this.videoSinks];
    if (recorders.length > 0) total.recordings = recorders.reduce((n, s) => n + s.recordings, 0);
    if (this.videoSinks.length > 0) total.segments = this.videoSinks.reduce((n, s) => n + s.segments, 0);
    return total;
  }

  /** Where the pipeline is, for the console: starting until its first media, then running, then how it ended. */
  status(): { state: 'starting' | 'running' | 'stopping' | 'ended' | 'failed'; detail: string } {
    if (this.outcome !== undefined) return this.outcome;
    const detail = this.nodes.flatMap((node) => (node.status === undefined ? [] : [node.status()])).join('; ');
    if (this.stopping) return { state: 'stopping', detail };
    return { state: this.started ? 'running' : 'starting', detail };
  }

  /** Runs until a file source ends, `stop()` is called or a permanent failure; work in flight is finished. */
  async run(): Promise<RunnerCounters> {
    try {
      return await this.runToEnd();
    } catch (error) {
      this.outcome = { state: 'failed', detail: error instanceof Error ? error.message : String(error) };
      throw error;
    }
  }

  private async runToEnd(): Promise<RunnerCounters> {
    try {
      for (const node of this.hubSources) await node.start();
      for await (const item of this.source.items()) {
        if (this.stopping) break;
        if (!this.started) {
          this.started = true;
          const pts = item.kind === 'frame' ? item.frame.pts90k : item.packet.pts90k;
          // Whole milliseconds at media time 0: timestamps keep the source's exact spacing, eventTime their instant.
          this.epoch90k = Date.now() * 90 - pts;
        }
        if (item.kind === 'frame') {
          this.read++;
          this.clock = Math.max(this.clock, item.frame.pts90k);
          await this.emitFromSource({ kind: 'frame', frame: item.frame, annotations: [] });
        } else {
          this.clock = Math.max(this.clock, item.packet.pts90k);
          await this.emitFromSource(item);
        }
      }
    } catch (error) {
      if (error instanceof PermanentSourceError) {
        await this.context.publish(
          nodeEvent(this.context.naming, 'Diagnostics', error.diagnostic, this.plan.source.name, 'sources', {
            errorCode: error.rtspStatus,
            errorMessage: error.message,
          }),
        );
      }
      throw error;
    } finally {
      // Upstream first: a node's end may still emit to the nodes after it.
      for (const node of this.nodes) await node.end();
    }
    if (this.failure !== undefined) throw this.failure;
    this.outcome = { state: 'ended', detail: '' };
    return this.counters();
  }

  stop(): void {
    this.stopping = true;
    this.source.stop();
  }
}

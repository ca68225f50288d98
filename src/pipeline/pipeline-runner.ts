import { HttpExtensionNode, type NodeCounters } from './http-extension-node.js';
import type { MessageSink } from './message-sink.js';
import { namingFor } from './pipeline-message.js';
import type { PipelinePlan } from './topology.js';
import { VideoSource } from './video-source.js';

export interface RunnerOptions {
  /** Live pacing: files play at their native rate and busy nodes drop frames. False: as fast as the extension answers. */
  realtime: boolean;
  ffmpegPath?: string;
  retryAfterDefaultSecs: number;
  requestTimeoutMs: number;
  reconnectDelayMs?: number;
  stallTimeoutMs?: number;
  onNotice?: (message: string) => void;
}

export interface RunnerCounters extends NodeCounters {
  read: number;
}

/** One live pipeline: a topology with its parameters, running from its source to its sinks. */
export class PipelineRunner {
  readonly source: VideoSource;
  readonly nodes: HttpExtensionNode[];
  private read = 0;
  private stopping = false;
  /** A camera cannot be slowed down: as-fast-as-possible applies to files only. */
  private readonly live: boolean;

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
      ...(options.ffmpegPath === undefined ? {} : { ffmpegPath: options.ffmpegPath }),
      ...(options.reconnectDelayMs === undefined ? {} : { reconnectDelayMs: options.reconnectDelayMs }),
      ...(options.stallTimeoutMs === undefined ? {} : { stallTimeoutMs: options.stallTimeoutMs }),
      onNotice: notice,
    });
    const naming = namingFor(plan.apiVersion, name);
    this.nodes = plan.extensions.map((spec) => {
      const outputNames = plan.sinks.filter((s) => s.inputs.includes(spec.name)).map((s) => s.hubOutputName);
      if (outputNames.length === 0) notice(`node "${spec.name}" feeds no sink: its results are not published`);
      return new HttpExtensionNode(spec, naming, sink, {
        retryAfterDefaultSecs: options.retryAfterDefaultSecs,
        requestTimeoutMs: options.requestTimeoutMs,
        outputNames,
        onNotice: notice,
      });
    });
  }

  /** Totals over the pipeline's extension nodes, and the frames read from the source. */
  counters(): RunnerCounters {
    const total: RunnerCounters = {
      read: this.read,
      sampled: 0,
      dropped: 0,
      sent: 0,
      answered: 0,
      errors: 0,
      published: 0,
    };
    for (const node of this.nodes) {
      for (const key of Object.keys(node.counters) as (keyof NodeCounters)[]) total[key] += node.counters[key];
    }
    return total;
  }

  /** Runs until a file source ends or `stop()` is called; requests in flight are awaited. */
  async run(): Promise<RunnerCounters> {
    try {
      for await (const frame of this.source.frames()) {
        if (this.stopping) break;
        this.read++;
        if (this.live) for (const node of this.nodes) node.offer(frame);
        else await Promise.all(this.nodes.map((node) => node.process(frame)));
      }
    } finally {
      await Promise.all(this.nodes.map((node) => node.close()));
    }
    return this.counters();
  }

  stop(): void {
    this.stopping = true;
    this.source.stop();
  }
}

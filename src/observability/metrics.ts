import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client';
import { VERSION } from '../version.js';

export const STAGES = ['receive', 'queue', 'decode', 'process', 'encode'] as const;
export type Stage = (typeof STAGES)[number];

/** Stage durations are milliseconds-to-seconds; frames take from well under a millisecond to seconds. */
const BUCKETS_SECONDS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

export interface RouteFigures {
  /** Requests answered, by HTTP status. */
  statuses: Record<string, number>;
  /** Cumulative latency buckets, [upper bound in seconds (Infinity last), requests at or under it]. */
  buckets: Array<[number, number]>;
  count: number;
  sum: number;
}

export interface PoolGauges {
  queued(): number;
  busy(): number;
  size(): number;
  ready(): boolean;
}

/**
 * Prometheus metrics, in base units with `_total` counters, one registry per server (tests run several servers in
 * one process). Stage names are the same as in the logs: receive -> queue -> decode -> process -> encode.
 */
export class Metrics {
  readonly registry = new Registry();
  private readonly requests: Counter<'route' | 'method' | 'status'>;
  private readonly stages: Histogram<'stage' | 'processor'>;
  private readonly duration: Histogram<'route'>;
  private readonly inferences: Counter<'processor' | 'type' | 'label'>;
  private readonly rejected: Counter<'reason'>;
  private readonly connectionsClosed: Counter<'listener' | 'reason'>;
  private readonly clientsGone: Counter<'stage'>;

  constructor(pool: PoolGauges) {
    collectDefaultMetrics({ register: this.registry, prefix: 'httpextension_' });
    this.requests = new Counter({
      name: 'httpextension_requests_total',
      help: 'HTTP requests answered, by route, method and status',
      labelNames: ['route', 'method', 'status'],
      registers: [this.registry],
    });
    this.duration = new Histogram({
      name: 'httpextension_request_duration_seconds',
      help: 'Time from the first byte of a request to its answer',
      labelNames: ['route'],
      buckets: BUCKETS_SECONDS,
      registers: [this.registry],
    });
    this.stages = new Histogram({
      name: 'httpextension_stage_duration_seconds',
      help: 'Time spent in each stage: receive, queue, decode, process, encode',
      labelNames: ['stage', 'processor'],
      buckets: BUCKETS_SECONDS,
      registers: [this.registry],
    });
    this.inferences = new Counter({
      name: 'httpextension_inferences_total',
      help: 'Inferences answered, by processor, type and label (tag value)',
      labelNames: ['processor', 'type', 'label'],
      registers: [this.registry],
    });
    this.rejected = new Counter({
      name: 'httpextension_rejected_requests_total',
      help: 'Requests refused, by reason (error code)',
      labelNames: ['reason'],
      registers: [this.registry],
    });
    this.connectionsClosed = new Counter({
      name: 'httpextension_connections_closed_total',
      help: 'Connections the server closed itself, by listener (http, grpc) and reason: evicted (idle, for a newcomer), no-request, refused-address, refused-full, drain',
      labelNames: ['listener', 'reason'],
      registers: [this.registry],
    });
    this.clientsGone = new Counter({
      name: 'httpextension_client_disconnects_total',
      help: 'Requests whose client closed the connection before the answer, by stage: receive, queue, process',
      labelNames: ['stage'],
      registers: [this.registry],
    });
    const gauge = (name: string, help: string, read: () => number): void => {
      new Gauge({
        name,
        help,
        registers: [this.registry],
        collect() {
          this.set(read());
        },
      });
    };
    // The Prometheus convention for "which build is running": a constant 1, the facts in the labels.
    new Gauge({
      name: 'httpextension_build_info',
      help: 'Always 1: the version of httpextension and of Node.js running',
      labelNames: ['version', 'node'],
      registers: [this.registry],
    }).set({ version: VERSION, node: process.versions.node }, 1);
    gauge('httpextension_queue_depth', 'Requests waiting for a worker', pool.queued);
    gauge('httpextension_workers_busy', 'Frames running now, on worker threads or the event loop', pool.busy);
    gauge('httpextension_workers', 'Worker threads configured', pool.size);
    gauge('httpextension_ready', '1 when every worker is up and the server is not draining', () =>
      pool.ready() ? 1 : 0,
    );
  }

  observeRequest(fields: {
    route: string;
    method: string;
    status: number;
    durationSeconds: number;
    code?: string | undefined;
  }): void {
    this.requests.inc({ route: fields.route, method: fields.method, status: String(fields.status) });
    this.duration.observe({ route: fields.route }, fields.durationSeconds);
    if (fields.code !== undefined) this.rejected.inc({ reason: fields.code });
  }

  observeConnectionClosed(listener: 'http' | 'grpc', reason: string): void {
    this.connectionsClosed.inc({ listener, reason });
  }

  observeClientGone(stage: string): void {
    this.clientsGone.inc({ stage });
  }

  observeStage(stage: Stage, processor: string, seconds: number): void {
    this.stages.observe({ stage, processor }, seconds);
  }

  observeInferences(processor: string, labels: ReadonlyArray<readonly [string, string]>): void {
    for (const [type, label] of labels) this.inferences.inc({ processor, type, label });
  }

  /**
   * Per route, the cumulative request counts by status and the latency histogram, as /metrics has them: a viewer
   * takes rates and percentiles from the difference between two readings (as Prometheus' rate and
   * histogram_quantile do), so readers never disturb each other.
   */
  async routeFigures(): Promise<Record<string, RouteFigures>> {
    const out: Record<string, RouteFigures> = {};
    const of = (route: string) => {
      out[route] ??= { statuses: {}, buckets: [], count: 0, sum: 0 };
      return out[route];
    };
    for (const { labels, value } of (await this.requests.get()).values) {
      const figures = of(String(labels.route));
      const status = String(labels.status);
      figures.statuses[status] = (figures.statuses[status] ?? 0) + value;
    }
    for (const { labels, value, metricName } of (await this.duration.get()).values) {
      const figures = of(String(labels.route));
      if (metricName?.endsWith('_bucket') === true) {
        const bound = (labels as Record<string, string | number | undefined>).le;
        const le = bound === '+Inf' ? Number.POSITIVE_INFINITY : Number(bound);
        figures.buckets.push([le, value]);
      } else if (metricName?.endsWith('_count') === true) figures.count = value;
      else if (metricName?.endsWith('_sum') === true) figures.sum = value;
    }
    return out;
  }

  render(): Promise<string> {
    return this.registry.metrics();
  }

  get contentType(): string {
    return this.registry.contentType;
  }
}

import { clamp01 } from '../schema/inference.js';
import type { Placement } from '../vision/letterbox.js';

/**
 * The messages a pipeline publishes, shaped as the vendor's IoT Hub messages: a body and the application properties
 * the vendor set. AVA (apiVersion 1.x) and LVA (1.0 / 2.0) named their event types and subjects differently.
 */
export interface PipelineMessage {
  properties: {
    /** The vendor's ARM id of the account (see `namingFor`). */
    topic: string;
    eventType: string;
    subject: string;
    eventTime: string;
    dataVersion: '1.0';
    /** The sink's `hubOutputName` (the IoT Edge output the vendor routed the message to). */
    outputName?: string;
  };
  body: Record<string, unknown>;
}

export interface MessageNaming {
  /** LVA spelling: `Microsoft.Media.Graph.*` events and `/graphInstances/` subjects. */
  lva: boolean;
  pipelineName: string;
  /** AVA subjects name the edge module: `/edgeModules/{moduleName}/livePipelines/...`. */
  moduleName: string;
  topic: string;
  /**
   * The vendor's absolute clock: 90 kHz ticks since the Unix epoch of media time 0, so that an event's
   * `timestamp / 90000` is its `eventTime` in seconds, for cameras and files alike.
   */
  epoch90k(): number;
}

export interface NamingOptions {
  /** Default `avaedge`, the module name of the vendor's deployment manifests. */
  moduleName?: string;
  /** Default: an ARM id of the vendor's shape for an account named after the module (we have no subscription). */
  topic?: string;
  epoch90k?: () => number;
}

export const DEFAULT_MODULE_NAME = 'avaedge';

export function defaultTopic(lva: boolean, moduleName: string): string {
  return `/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/edge/providers/Microsoft.Media/${lva ? 'mediaServices' : 'videoAnalyzers'}/${moduleName}`;
}

export function namingFor(apiVersion: string, pipelineName: string, options: NamingOptions = {}): MessageNaming {
  const lva = apiVersion === '1.0' || apiVersion === '2.0';
  const moduleName = options.moduleName ?? DEFAULT_MODULE_NAME;
  const epoch = Date.now() * 90;
  return {
    lva,
    pipelineName,
    moduleName,
    topic: options.topic ?? defaultTopic(lva, moduleName),
    epoch90k: options.epoch90k ?? (() => epoch),
  };
}

/** The pipeline and node a subject names (`/edgeModules/m/livePipelines/p/processors/n`, `/graphInstances/p/...`). */
export function subjectParts(subject: string): { pipeline: string; node: string } {
  const m = /\/(?:livePipelines|graphInstances)\/([^/]+)(?:\/[^/]+\/([^/]+))?/.exec(subject);
  return { pipeline: m?.[1] ?? '', node: m?.[2] ?? '' };
}

/** Where in the pipeline an event comes from: the vendor's subject names the node's section. */
export type NodeSection = 'sources' | 'processors' | 'sinks';

function subject(naming: MessageNaming, node: string, section: NodeSection = 'processors'): string {
  return naming.lva
    ? `/graphInstances/${naming.pipelineName}/${section}/${node}`
    : `/edgeModules/${naming.moduleName}/livePipelines/${naming.pipelineName}/${section}/${node}`;
}

function eventType(naming: MessageNaming, kind: 'Analytics' | 'Diagnostics' | 'Operational', name: string): string {
  return naming.lva ? `Microsoft.Media.Graph.${kind}.${name}` : `Microsoft.VideoAnalyzer.${kind}.${name}`;
}

/**
 * An analytics event as a hub sink publishes it: the producing node's subject, `timestamp` (the frame's media time
 * on the absolute 90 kHz clock) first, then the body; `eventTime` is the same instant.
 */
export function analyticsMessage(
  naming: MessageNaming,
  node: string,
  pts90k: number,
  body: Record<string, unknown>,
  outputName?: string,
): PipelineMessage {
  const timestamp = naming.epoch90k() + pts90k;
  return {
    properties: {
      topic: naming.topic,
      subject: subject(naming, node),
      eventType: eventType(naming, 'Analytics', 'Inference'),
      eventTime: new Date(Math.floor(timestamp / 90)).toISOString(),
      dataVersion: '1.0',
      ...(outputName === undefined ? {} : { outputName }),
    },
    body: { timestamp, ...body },
  };
}

/** A diagnostics or operational event of a node (`ProtocolError`, `RecordingStarted`, ...). */
export function nodeEvent(
  naming: MessageNaming,
  kind: 'Diagnostics' | 'Operational',
  name: string,
  node: string,
  section: NodeSection,
  body: Record<string, unknown>,
): PipelineMessage {
  return {
    properties: {
      topic: naming.topic,
      subject: subject(naming, node, section),
      eventType: eventType(naming, kind, name),
      eventTime: new Date().toISOString(),
      dataVersion: '1.0',
    },
    body,
  };
}

/**
 * A diagnostics event like the vendor's `ProtocolError`: the extension's answer body (HTTP) or the stream's status
 * details (gRPC) is the message.
 */
export function protocolErrorMessage(
  naming: MessageNaming,
  node: string,
  errorCode: string,
  errorMessage: string,
  protocol: 'http' | 'grpc' = 'http',
): PipelineMessage {
  return nodeEvent(naming, 'Diagnostics', 'ProtocolError', node, 'processors', {
    protocol,
    errorCode,
    errorMessage,
  });
}

/**
 * In `pad` mode the extension saw the frame inside black bars, so its normalised boxes are relative to the padded
 * image: map them back to the source frame (and clip what falls on the bars), as the vendor did before publishing.
 */
export function unpadInferences(inferences: unknown[], placement: Placement): unknown[] {
  const { inputWidth: W, inputHeight: H, scaledWidth: cw, scaledHeight: ch, padLeft, padTop } = placement;
  if (padLeft === 0 && padTop === 0 && cw === W && ch === H) return inferences;
  const mapBox = (box: unknown): unknown => {
    if (box === null || typeof box !== 'object') return box;
    const b = box as Record<string, unknown>;
    if (typeof b.l !== 'number' || typeof b.t !== 'number' || typeof b.w !== 'number' || typeof b.h !== 'number') {
      return box;
    }
    const l = clamp01((b.l * W - padLeft) / cw);
    const t = clamp01((b.t * H - padTop) / ch);
    const r = clamp01(((b.l + b.w) * W - padLeft) / cw);
    const bottom = clamp01(((b.t + b.h) * H - padTop) / ch);
    return { ...b, l, t, w: r - l, h: bottom - t };
  };
  return inferences.map((inference) => {
    if (inference === null || typeof inference !== 'object') return inference;
    const out: Record<string, unknown> = { ...(inference as Record<string, unknown>) };
    for (const key of ['entity', 'motion', 'event']) {
      const payload = out[key];
      if (payload !== null && typeof payload === 'object' && 'box' in payload) {
        out[key] = { ...(payload as Record<string, unknown>), box: mapBox((payload as { box: unknown }).box) };
      }
    }
    return out;
  });
}

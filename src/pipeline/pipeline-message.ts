import { clamp01 } from '../schema/inference.js';
import type { Placement } from '../vision/letterbox.js';

/**
 * The messages a pipeline publishes, shaped as the vendor's IoT Hub messages: a body and the application properties
 * the vendor set. AVA (apiVersion 1.x) and LVA (1.0 / 2.0) named their event types and subjects differently.
 */
export interface PipelineMessage {
  properties: {
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
}

export function namingFor(apiVersion: string, pipelineName: string): MessageNaming {
  return { lva: apiVersion === '1.0' || apiVersion === '2.0', pipelineName };
}

/** Where in the pipeline an event comes from: the vendor's subject names the node's section. */
export type NodeSection = 'sources' | 'processors' | 'sinks';

function subject(naming: MessageNaming, node: string, section: NodeSection = 'processors'): string {
  return naming.lva
    ? `/graphInstances/${naming.pipelineName}/${section}/${node}`
    : `/livePipelines/${naming.pipelineName}/${section}/${node}`;
}

function eventType(naming: MessageNaming, kind: 'Analytics' | 'Diagnostics' | 'Operational', name: string): string {
  return naming.lva ? `Microsoft.Media.Graph.${kind}.${name}` : `Microsoft.VideoAnalyzer.${kind}.${name}`;
}

/** An analytics event as a hub sink publishes it: the producing node's subject, `timestamp` first, then the body. */
export function analyticsMessage(
  naming: MessageNaming,
  node: string,
  pts90k: number,
  body: Record<string, unknown>,
  outputName?: string,
): PipelineMessage {
  return {
    properties: {
      eventType: eventType(naming, 'Analytics', 'Inference'),
      subject: subject(naming, node),
      eventTime: new Date().toISOString(),
      dataVersion: '1.0',
      ...(outputName === undefined ? {} : { outputName }),
    },
    body: { timestamp: pts90k, ...body },
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
      eventType: eventType(naming, kind, name),
      subject: subject(naming, node, section),
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

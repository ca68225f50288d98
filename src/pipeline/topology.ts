import { HxError } from '../errors.js';
import {
  type GrpcExtensionSpec,
  type HttpExtensionSpec,
  parseEndpoint,
  parseGrpcExtension,
  parseHttpExtension,
} from './extension-spec.js';
import {
  checkSystemVariables,
  type FileSinkSpec,
  type GateSpec,
  type HubSourceSpec,
  type LineCrossingSpec,
  type MotionSpec,
  parseFileSink,
  parseGate,
  parseLineCrossing,
  parseMotion,
  parseTracking,
  parseVideoSink,
  type TrackingSpec,
  type VideoSinkSpec,
} from './node-specs.js';
import { type ParameterDeclaration, substituteParameters } from './parameters.js';
import { fail, num, type RawNode, shortType, str } from './topology-values.js';

export type {
  Credentials,
  EndpointSpec,
  ExtensionSpec,
  GrpcExtensionSpec,
  HttpExtensionSpec,
  ImageFormatSpec,
  ScaleMode,
  ScaleSpec,
} from './extension-spec.js';
export { shortType } from './topology-values.js';

/**
 * Topology files as the vendor wrote them, in both spellings: AVA 1.x (`#Microsoft.VideoAnalyzer.HttpExtension`,
 * `...GrpcExtension`) and LVA 1.0 / 2.0 (`#Microsoft.Media.MediaGraphHttpExtension`, `...MediaGraphGrpcExtension`). `parseTopology` resolves `${parameters}`, reads
 * every node's properties and checks the graph its `inputs` draw (no dangling input, no cycle, each edge carrying
 * something its target consumes, the vendor's wiring rules), and returns the nodes in topological order. A node type
 * the runner does not run is refused by name, all at once, before anything starts.
 */

export interface SourceSpec {
  name: string;
  /** rtsp(s):// URL, or a local file (a path or file:// URL in rtspUrl). */
  kind: 'rtsp' | 'file';
  url: string;
  transport: 'tcp' | 'udp';
  username?: string;
  password?: string;
}

/** `outputSelectors`: the vendor's only selectable property is `mediaType`. */
export interface OutputSelector {
  operator: 'is' | 'isNot';
  value: string;
}

export interface InputSpec {
  nodeName: string;
  selectors: OutputSelector[];
}

export interface SinkSpec {
  name: string;
  hubOutputName: string;
  /** The HTTP extension nodes whose results this sink publishes. */
  inputs: string[];
}

interface NodeBase {
  name: string;
  inputs: InputSpec[];
}

export type NodeSpec =
  | (NodeBase & { type: 'RtspSource'; source: SourceSpec })
  | (NodeBase & { type: 'IotHubMessageSource'; hubSource: HubSourceSpec })
  | (NodeBase & { type: 'HttpExtension'; extension: HttpExtensionSpec })
  | (NodeBase & { type: 'GrpcExtension'; extension: GrpcExtensionSpec })
  | (NodeBase & { type: 'FrameRateFilterProcessor'; maximumFps: number })
  | (NodeBase & { type: 'MotionDetectionProcessor'; motion: MotionSpec })
  | (NodeBase & { type: 'SignalGateProcessor'; gate: GateSpec })
  | (NodeBase & { type: 'ObjectTrackingProcessor'; tracking: TrackingSpec })
  | (NodeBase & { type: 'LineCrossingProcessor'; lineCrossing: LineCrossingSpec })
  | (NodeBase & { type: 'IotHubMessageSink'; sink: SinkSpec })
  | (NodeBase & { type: 'FileSink'; file: FileSinkSpec })
  | (NodeBase & { type: 'VideoSink' | 'AssetSink'; video: VideoSinkSpec });

export type NodeType = NodeSpec['type'];

export const SUPPORTED_TYPES: readonly NodeType[] = [
  'RtspSource',
  'IotHubMessageSource',
  'HttpExtension',
  'GrpcExtension',
  'FrameRateFilterProcessor',
  'MotionDetectionProcessor',
  'SignalGateProcessor',
  'ObjectTrackingProcessor',
  'LineCrossingProcessor',
  'IotHubMessageSink',
  'FileSink',
  'VideoSink',
  'AssetSink',
];

/** Vendor node types that need the vendor's cloud: refused with that reason rather than "not supported yet". */
const CLOUD_ONLY = /^CognitiveServicesVisionProcessor$|SpatialAnalysis/;

function parseInputs(node: RawNode): InputSpec[] {
  if (node.inputs === undefined) return [];
  if (!Array.isArray(node.inputs)) fail(`${String(node.name)}.inputs must be an array`);
  return node.inputs.map((input: unknown, i) => {
    const where = `${String(node.name)}.inputs[${i}]`;
    const raw = (input ?? {}) as { nodeName?: unknown; outputSelectors?: unknown };
    const selectors: OutputSelector[] = [];
    if (raw.outputSelectors !== undefined && raw.outputSelectors !== null) {
      if (!Array.isArray(raw.outputSelectors)) fail(`${where}.outputSelectors must be an array`);
      raw.outputSelectors.forEach((sel: unknown, j) => {
        const s = (sel ?? {}) as { property?: unknown; operator?: unknown; value?: unknown };
        const at = `${where}.outputSelectors[${j}]`;
        if (String(s.property ?? 'mediaType').toLowerCase() !== 'mediatype') {
          fail(`${at}.property must be mediaType, not ${JSON.stringify(s.property)}`);
        }
        const operator = String(s.operator ?? 'is').toLowerCase();
        if (operator !== 'is' && operator !== 'isnot')
          fail(`${at}.operator must be is or isNot, not ${String(s.operator)}`);
        selectors.push({
          operator: operator === 'is' ? 'is' : 'isNot',
          value: str(s.value, `${at}.value`).toLowerCase(),
        });
      });
    }
    return { nodeName: str(raw.nodeName, `${where}.nodeName`), selectors };
  });
}

export interface PipelinePlan {
  topologyName: string;
  apiVersion: string;
  /** Every node, upstream before downstream (a topological order of the `inputs` graph). */
  nodes: NodeSpec[];
  /** The video source (the vendor allowed at most one RtspSource; the runner needs exactly one). */
  source: SourceSpec;
  /** Views on `nodes`: the extension nodes (HTTP and gRPC) and the IotHubMessageSinks. */
  extensions: (HttpExtensionSpec | GrpcExtensionSpec)[];
  sinks: SinkSpec[];
}

function parseSource(node: RawNode): SourceSpec {
  const name = String(node.name);
  const endpoint = parseEndpoint(node.endpoint, `${name}.endpoint`);
  const transport = typeof node.transport === 'string' ? node.transport.toLowerCase() : 'tcp';
  if (transport !== 'tcp' && transport !== 'udp') fail(`${name}.transport must be tcp or udp, not ${transport}`);
  const url = endpoint.url;
  const isRtsp = /^rtsps?:\/\//i.test(url);
  if (!isRtsp && /^[a-z][a-z0-9+.-]+:\/\//i.test(url) && !url.startsWith('file://')) {
    fail(`${name}.endpoint.url must be an rtsp:// URL, a file path or a file:// URL, not ${url}`);
  }
  const source: SourceSpec = { name, kind: isRtsp ? 'rtsp' : 'file', url, transport };
  if (endpoint.credentials?.kind === 'usernamePassword') {
    source.username = endpoint.credentials.username ?? '';
    source.password = endpoint.credentials.password ?? '';
  }
  return source;
}

interface TopologyFile {
  '@apiVersion'?: unknown;
  name?: unknown;
  properties?: {
    parameters?: unknown;
    sources?: unknown;
    processors?: unknown;
    sinks?: unknown;
  };
}

type MediaType = 'video' | 'application';

/** What flows out of each node type (media type), and what it reads. Decoded frames and packets are both `video`. */
const STREAMS: Record<NodeType, { emits: MediaType[]; consumes: MediaType[] }> = {
  RtspSource: { emits: ['video'], consumes: [] },
  IotHubMessageSource: { emits: ['application'], consumes: [] },
  HttpExtension: { emits: ['video', 'application'], consumes: ['video'] },
  GrpcExtension: { emits: ['video', 'application'], consumes: ['video'] },
  FrameRateFilterProcessor: { emits: ['video'], consumes: ['video'] },
  MotionDetectionProcessor: { emits: ['video', 'application'], consumes: ['video'] },
  SignalGateProcessor: { emits: ['video', 'application'], consumes: ['video', 'application'] },
  ObjectTrackingProcessor: { emits: ['video', 'application'], consumes: ['video', 'application'] },
  LineCrossingProcessor: { emits: ['video', 'application'], consumes: ['application'] },
  IotHubMessageSink: { emits: [], consumes: ['application'] },
  FileSink: { emits: [], consumes: ['video'] },
  // Events are accepted (the vendor recorded inference metadata with the video) but not stored.
  VideoSink: { emits: [], consumes: ['video', 'application'] },
  AssetSink: { emits: [], consumes: ['video', 'application'] },
};

/** Whether an item of `mediaType` passes an input's `outputSelectors` (all of them must hold). */
export function selects(selectors: readonly OutputSelector[], mediaType: string): boolean {
  return selectors.every((s) => (s.operator === 'is') === (s.value === mediaType));
}

function parseNode(node: RawNode, type: NodeType, name: string, inputs: InputSpec[]): NodeSpec {
  switch (type) {
    case 'RtspSource':
      return { type, name, inputs, source: parseSource(node) };
    case 'IotHubMessageSource':
      return {
        type,
        name,
        inputs,
        hubSource: { name, hubInputName: typeof node.hubInputName === 'string' ? node.hubInputName : name },
      };
    case 'HttpExtension':
      return { type, name, inputs, extension: parseHttpExtension(node, name) };
    case 'GrpcExtension':
      return { type, name, inputs, extension: parseGrpcExtension(node, name) };
    case 'FrameRateFilterProcessor':
      return { type, name, inputs, maximumFps: num(node.maximumFps, `${name}.maximumFps`, { min: 0.001, max: 1000 }) };
    case 'MotionDetectionProcessor':
      return { type, name, inputs, motion: parseMotion(node, name) };
    case 'SignalGateProcessor':
      return { type, name, inputs, gate: parseGate(node, name) };
    case 'ObjectTrackingProcessor':
      return { type, name, inputs, tracking: parseTracking(node, name) };
    case 'LineCrossingProcessor':
      return { type, name, inputs, lineCrossing: parseLineCrossing(node, name) };
    case 'IotHubMessageSink':
      return {
        type,
        name,
        inputs,
        sink: {
          name,
          hubOutputName: typeof node.hubOutputName === 'string' ? node.hubOutputName : name,
          inputs: inputs.map((i) => i.nodeName),
        },
      };
    case 'FileSink':
      return { type, name, inputs, file: parseFileSink(node, name) };
    case 'VideoSink':
    case 'AssetSink':
      return { type, name, inputs, video: parseVideoSink(node, name, type === 'AssetSink') };
  }
}

/** Upstream before downstream; a cycle is reported with its path. */
function topologicalOrder(nodes: readonly NodeSpec[]): NodeSpec[] {
  const byName = new Map(nodes.map((n) => [n.name, n]));
  const state = new Map<string, 'visiting' | 'done'>();
  const order: NodeSpec[] = [];
  const visit = (node: NodeSpec, path: string[]): void => {
    const seen = state.get(node.name);
    if (seen === 'done') return;
    if (seen === 'visiting') {
      const cycle = [...path.slice(path.indexOf(node.name)), node.name];
      fail(`the topology has a cycle: ${cycle.join(' -> ')} (each node reads the next one's output)`);
    }
    state.set(node.name, 'visiting');
    for (const input of node.inputs) visit(byName.get(input.nodeName)!, [...path, node.name]);
    state.set(node.name, 'done');
    order.push(node);
  };
  for (const node of nodes) visit(node, []);
  return order;
}

/** The vendor's wiring rules that the runner depends on (`node-behaviour.md` section 0.2), and stream typing. */
function checkWiring(nodes: readonly NodeSpec[]): void {
  const byName = new Map(nodes.map((n) => [n.name, n]));
  for (const node of nodes) {
    const isSource = node.type === 'RtspSource' || node.type === 'IotHubMessageSource';
    if (!isSource && node.inputs.length === 0) fail(`node "${node.name}" (${node.type}) has no inputs`);
    if (isSource && node.inputs.length > 0) fail(`source "${node.name}" cannot have inputs`);
    for (const input of node.inputs) {
      const upstream = byName.get(input.nodeName)!;
      const carried = STREAMS[upstream.type].emits.filter((m) => selects(input.selectors, m));
      if (!carried.some((m) => STREAMS[node.type].consumes.includes(m))) {
        fail(
          `node "${node.name}" (${node.type}) reads "${upstream.name}" (${upstream.type}), which gives it nothing it consumes: ` +
            `"${upstream.name}" emits ${STREAMS[upstream.type].emits.join(' and ') || 'nothing'}` +
            `${input.selectors.length > 0 ? ' before outputSelectors' : ''}, "${node.name}" consumes ${STREAMS[node.type].consumes.join(' and ')}`,
        );
      }
    }
    const upstreamTypes = node.inputs.map((i) => byName.get(i.nodeName)!.type);
    if (node.type === 'MotionDetectionProcessor' && upstreamTypes.some((t) => t !== 'RtspSource')) {
      fail(`node "${node.name}" (MotionDetectionProcessor) must read the RtspSource directly`);
    }
    if (node.type === 'SignalGateProcessor') {
      if (upstreamTypes.filter((t) => t === 'RtspSource').length !== 1) {
        fail(`node "${node.name}" (SignalGateProcessor) needs the RtspSource as its one media input`);
      }
      if (upstreamTypes.every((t) => t === 'RtspSource')) {
        fail(
          `node "${node.name}" (SignalGateProcessor) needs at least one event input (motion, an extension, hub messages)`,
        );
      }
      const readers = nodes.filter((n) => n.inputs.some((i) => i.nodeName === node.name));
      const bad = readers.find((r) => r.type !== 'FileSink' && r.type !== 'VideoSink' && r.type !== 'AssetSink');
      if (bad !== undefined) {
        fail(`node "${bad.name}" (${bad.type}) reads the signal gate "${node.name}": only recording sinks may`);
      }
    }
    if (node.type === 'ObjectTrackingProcessor' && upstreamTypes.some((t) => t !== 'HttpExtension')) {
      // It needs every frame and the extension's detections on some of them: only an extension gives both.
      fail(`node "${node.name}" (ObjectTrackingProcessor) must read an HttpExtension directly`);
    }
    if (
      node.type === 'LineCrossingProcessor' &&
      upstreamTypes.some((t) => t !== 'ObjectTrackingProcessor' && t !== 'HttpExtension')
    ) {
      fail(
        `node "${node.name}" (LineCrossingProcessor) must read an ObjectTrackingProcessor (or an extension that tracks, with sequenceIds) directly`,
      );
    }
    if (node.type === 'FileSink' && upstreamTypes.some((t) => t !== 'SignalGateProcessor')) {
      fail(`node "${node.name}" (FileSink) must read a SignalGateProcessor (it records one file per activation)`);
    }
    if (
      (node.type === 'VideoSink' || node.type === 'AssetSink') &&
      !upstreamTypes.some((t) => t === 'RtspSource' || t === 'SignalGateProcessor')
    ) {
      fail(
        `node "${node.name}" (${node.type}) must read the RtspSource (continuous) or a SignalGateProcessor (events)`,
      );
    }
    if (node.type === 'IotHubMessageSink' && upstreamTypes.includes('IotHubMessageSource')) {
      fail(`node "${node.name}" (IotHubMessageSink) cannot read an IotHubMessageSource directly`);
    }
  }
}

/** Parses a topology (the parsed JSON of a topology file) with the live pipeline's parameter values. */
export function parseTopology(json: unknown, values: Readonly<Record<string, string>> = {}): PipelinePlan {
  const file = (json ?? {}) as TopologyFile;
  const props = file.properties;
  if (props === undefined || typeof props !== 'object') fail('the topology has no "properties" object');
  const asList = (v: unknown, key: string): RawNode[] => {
    if (v === undefined) return [];
    if (!Array.isArray(v)) fail(`properties.${key} must be an array`);
    return v as RawNode[];
  };
  // Refuse unsupported nodes before asking for parameters they may need.
  const rawNodes = [
    ...asList(props.sources, 'sources'),
    ...asList(props.processors, 'processors'),
    ...asList(props.sinks, 'sinks'),
  ];
  const cloud = rawNodes.filter((n) => CLOUD_ONLY.test(shortType(n['@type'])));
  if (cloud.length > 0) {
    throw new HxError(
      'HX_ERR_PIPELINE_UNSUPPORTED',
      `${cloud.map((n) => `node "${String(n.name)}" (${String(n['@type'])})`).join(', ')}: Cognitive Services (spatial analysis) nodes ran the vendor's own cloud-licensed models and are out of the runner's scope`,
    );
  }
  const unsupported = rawNodes.filter((n) => !(SUPPORTED_TYPES as readonly string[]).includes(shortType(n['@type'])));
  if (unsupported.length > 0) {
    throw new HxError(
      'HX_ERR_PIPELINE_UNSUPPORTED',
      `${unsupported.map((n) => `node "${String(n.name)}" (${String(n['@type'])})`).join(', ')} ${unsupported.length > 1 ? 'are' : 'is'} not supported by the runner, which runs ${SUPPORTED_TYPES.join(', ')}`,
    );
  }
  const declarations = asList(props.parameters, 'parameters') as unknown as ParameterDeclaration[];
  const graph = substituteParameters(rawNodes, declarations, values);
  const names = new Set<string>();
  const parsed = graph.map((node) => {
    const name = str(node.name, 'every node\'s "name"');
    if (names.has(name)) fail(`two nodes are named "${name}"`);
    names.add(name);
    return { node, name, inputs: parseInputs(node) };
  });
  for (const { name, inputs } of parsed) {
    for (const input of inputs) {
      if (!names.has(input.nodeName)) fail(`node "${name}" has input "${input.nodeName}", which is not a node`);
    }
  }
  const rtspSources = parsed.filter((p) => shortType(p.node['@type']) === 'RtspSource');
  if (rtspSources.length !== 1) fail(`the runner needs exactly one RtspSource, found ${rtspSources.length}`);
  for (const { node, name } of parsed) {
    for (const key of ['fileNamePattern', 'filePathPattern', 'baseDirectoryPath', 'videoName', 'assetNamePattern']) {
      if (typeof node[key] === 'string') checkSystemVariables(node[key], `${name}.${key}`);
    }
  }
  const nodes = topologicalOrder(
    parsed.map(({ node, name, inputs }) => parseNode(node, shortType(node['@type']) as NodeType, name, inputs)),
  );
  checkWiring(nodes);
  const source = nodes.find((n) => n.type === 'RtspSource')!;
  return {
    topologyName: typeof file.name === 'string' ? file.name : 'topology',
    apiVersion: typeof file['@apiVersion'] === 'string' ? file['@apiVersion'] : '',
    nodes,
    source: source.source,
    extensions: nodes.flatMap((n) => (n.type === 'HttpExtension' || n.type === 'GrpcExtension' ? [n.extension] : [])),
    sinks: nodes.flatMap((n) => (n.type === 'IotHubMessageSink' ? [n.sink] : [])),
  };
}

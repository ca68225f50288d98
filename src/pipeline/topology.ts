import { isRawFormat, type RawFormat } from '../contract/pixel-format.js';
import { HxError } from '../errors.js';
import { type ParameterDeclaration, substituteParameters } from './parameters.js';

/**
 * Topology files as the vendor wrote them, in both spellings: AVA 1.x (`#Microsoft.VideoAnalyzer.HttpExtension`)
 * and LVA 1.0 / 2.0 (`#Microsoft.Media.MediaGraphHttpExtension`). `parseTopology` checks the whole graph, resolves
 * `${parameters}` and returns a plan of what the runner supports: one video source, optional frame-rate filters,
 * HTTP extension nodes, and message sinks. Anything else is refused by name, all at once, before anything starts.
 */

export interface Credentials {
  kind: 'usernamePassword' | 'httpHeader';
  username?: string;
  password?: string;
  headerName?: string;
  headerValue?: string;
}

export interface EndpointSpec {
  url: string;
  credentials?: Credentials;
  /** Present for TlsEndpoint. */
  tls?: { trustedCertificates: string[]; ignoreHostname: boolean; ignoreSignature: boolean };
}

export interface SourceSpec {
  name: string;
  /** rtsp(s):// URL, or a local file (a path or file:// URL in rtspUrl). */
  kind: 'rtsp' | 'file';
  url: string;
  transport: 'tcp' | 'udp';
  username?: string;
  password?: string;
}

export type ScaleMode = 'pad' | 'preserveAspectRatio' | 'stretch';

export interface ScaleSpec {
  mode: ScaleMode;
  width?: number;
  height?: number;
}

export type ImageFormatSpec =
  | { kind: 'jpeg'; quality: number }
  | { kind: 'png' }
  | { kind: 'bmp' }
  | { kind: 'raw'; pixelFormat: RawFormat };

export interface HttpExtensionSpec {
  name: string;
  endpoint: EndpointSpec;
  /** Absent: frames are sent at their native size. */
  scale?: ScaleSpec;
  format: ImageFormatSpec;
  /** Cap on samples per second, by presentation time (samplingOptions, or an LVA 1.0 frame-rate filter upstream). */
  maximumSamplesPerSecond: number[];
}

export interface SinkSpec {
  name: string;
  hubOutputName: string;
  /** The HTTP extension nodes whose results this sink publishes. */
  inputs: string[];
}

export interface PipelinePlan {
  topologyName: string;
  apiVersion: string;
  source: SourceSpec;
  extensions: HttpExtensionSpec[];
  sinks: SinkSpec[];
}

export const SUPPORTED_TYPES = [
  'RtspSource',
  'HttpExtension',
  'FrameRateFilterProcessor',
  'IotHubMessageSink',
] as const;

interface RawNode {
  '@type'?: unknown;
  name?: unknown;
  inputs?: unknown;
  [key: string]: unknown;
}

/** `#Microsoft.VideoAnalyzer.HttpExtension` and `#Microsoft.Media.MediaGraphHttpExtension` -> `HttpExtension`. */
export function shortType(type: unknown): string {
  if (typeof type !== 'string') return '';
  let t = type.replace(/^#?Microsoft\.VideoAnalyzer\./, '').replace(/^#?Microsoft\.Media\.MediaGraph/, '');
  if (t === 'IoTHubMessageSink') t = 'IotHubMessageSink'; // LVA's capital T
  return t;
}

function fail(message: string): never {
  throw new HxError('HX_ERR_PIPELINE_TOPOLOGY', message);
}

function str(value: unknown, where: string): string {
  if (typeof value === 'string' && value.length > 0) return value;
  if (typeof value === 'number') return String(value);
  return fail(`${where} must be a non-empty string`);
}

/** Topologies write numbers as strings ("416", "2.0"): accept both. */
function num(value: unknown, where: string, { integer = false, min = 0, max = Number.POSITIVE_INFINITY } = {}): number {
  const n = typeof value === 'number' ? value : typeof value === 'string' && value.trim() !== '' ? Number(value) : NaN;
  if (!Number.isFinite(n) || n < min || n > max || (integer && !Number.isInteger(n))) {
    fail(`${where} must be ${integer ? 'a whole number' : 'a number'} in ${min}..${max}, not ${JSON.stringify(value)}`);
  }
  return n;
}

function bool(value: unknown): boolean {
  return value === true || (typeof value === 'string' && value.toLowerCase() === 'true');
}

function inputNames(node: RawNode): string[] {
  if (!Array.isArray(node.inputs)) return [];
  return node.inputs.map((input: unknown, i) =>
    str((input as { nodeName?: unknown } | null)?.nodeName, `${String(node.name)}.inputs[${i}].nodeName`),
  );
}

function parseCredentials(raw: unknown, where: string): Credentials | undefined {
  if (raw === undefined || raw === null) return undefined;
  const node = raw as RawNode;
  const type = shortType(node['@type']);
  if (type === 'UsernamePasswordCredentials') {
    return {
      kind: 'usernamePassword',
      username: str(node.username, `${where}.username`),
      password: typeof node.password === 'string' ? node.password : '',
    };
  }
  if (type === 'HttpHeaderCredentials') {
    return {
      kind: 'httpHeader',
      headerName: str(node.headerName, `${where}.headerName`),
      headerValue: str(node.headerValue, `${where}.headerValue`),
    };
  }
  throw new HxError(
    'HX_ERR_PIPELINE_UNSUPPORTED',
    `${where}: credentials of type ${String(node['@type'])} are not supported (use UsernamePasswordCredentials or HttpHeaderCredentials)`,
  );
}

function parseEndpoint(raw: unknown, where: string): EndpointSpec {
  const node = (raw ?? {}) as RawNode;
  const type = shortType(node['@type']);
  const url = str(node.url, `${where}.url`);
  const credentials = parseCredentials(node.credentials, `${where}.credentials`);
  const endpoint: EndpointSpec = { url, ...(credentials ? { credentials } : {}) };
  if (type === 'TlsEndpoint') {
    const certs = (node.trustedCertificates ?? {}) as RawNode;
    const validation = (node.validationOptions ?? {}) as RawNode;
    const list = certs.certificates;
    endpoint.tls = {
      trustedCertificates: Array.isArray(list) ? list.map((c, i) => str(c, `${where}.trustedCertificates[${i}]`)) : [],
      ignoreHostname: bool(validation.ignoreHostname),
      ignoreSignature: bool(validation.ignoreSignature),
    };
  } else if (type !== 'UnsecuredEndpoint') {
    throw new HxError(
      'HX_ERR_PIPELINE_UNSUPPORTED',
      `${where}: endpoint type ${String(node['@type'])} is not supported (use UnsecuredEndpoint or TlsEndpoint)`,
    );
  }
  return endpoint;
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

function parseScale(raw: unknown, where: string): ScaleSpec | undefined {
  if (raw === undefined || raw === null) return undefined;
  const node = raw as RawNode;
  const width =
    node.width === undefined || node.width === ''
      ? undefined
      : num(node.width, `${where}.width`, { integer: true, min: 1, max: 16384 });
  const height =
    node.height === undefined || node.height === ''
      ? undefined
      : num(node.height, `${where}.height`, { integer: true, min: 1, max: 16384 });
  if (width === undefined && height === undefined) return undefined;
  const modeText = typeof node.mode === 'string' ? node.mode.toLowerCase() : 'pad';
  const modes: Record<string, ScaleMode> = {
    pad: 'pad',
    preserveaspectratio: 'preserveAspectRatio',
    stretch: 'stretch',
  };
  const mode = modes[modeText];
  if (mode === undefined) fail(`${where}.mode must be pad, preserveAspectRatio or stretch, not ${String(node.mode)}`);
  if (mode === 'pad' && (width === undefined || height === undefined)) {
    fail(`${where}: pad needs both width and height`);
  }
  return { mode, ...(width === undefined ? {} : { width }), ...(height === undefined ? {} : { height }) };
}

function parseFormat(raw: unknown, where: string): ImageFormatSpec {
  if (raw === undefined || raw === null) return { kind: 'bmp' }; // what the vendor sent when none was given
  const node = raw as RawNode;
  const type = shortType(node['@type']);
  const quality = (): number =>
    node.quality === undefined ? 90 : num(node.quality, `${where}.quality`, { integer: true, min: 0, max: 100 });
  switch (type) {
    case 'ImageFormatJpeg':
      return { kind: 'jpeg', quality: quality() };
    case 'ImageFormatPng':
      return { kind: 'png' };
    case 'ImageFormatBmp':
      return { kind: 'bmp' };
    case 'ImageFormatRaw': {
      const pixelFormat = String(node.pixelFormat ?? '').toLowerCase();
      if (!isRawFormat(pixelFormat))
        fail(`${where}.pixelFormat ${String(node.pixelFormat)} is not one of the 11 raw formats`);
      return { kind: 'raw', pixelFormat };
    }
    case 'ImageFormatEncoded': {
      // LVA 1.0: one type with an `encoding` field.
      const encoding = String(node.encoding ?? 'jpeg').toLowerCase();
      if (encoding === 'jpeg' || encoding === 'jpg') return { kind: 'jpeg', quality: quality() };
      if (encoding === 'png') return { kind: 'png' };
      if (encoding === 'bmp') return { kind: 'bmp' };
      return fail(`${where}.encoding must be jpeg, png or bmp, not ${encoding}`);
    }
    default:
      throw new HxError(
        'HX_ERR_PIPELINE_UNSUPPORTED',
        `${where}: image format ${String(node['@type'])} is not supported`,
      );
  }
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
  const unsupported = [
    ...asList(props.sources, 'sources'),
    ...asList(props.processors, 'processors'),
    ...asList(props.sinks, 'sinks'),
  ].filter((n) => !(SUPPORTED_TYPES as readonly string[]).includes(shortType(n['@type'])));
  if (unsupported.length > 0) {
    throw new HxError(
      'HX_ERR_PIPELINE_UNSUPPORTED',
      `${unsupported.map((n) => `node "${String(n.name)}" (${String(n['@type'])})`).join(', ')} ${unsupported.length > 1 ? 'are' : 'is'} not supported by the runner, which runs ${SUPPORTED_TYPES.join(', ')}`,
    );
  }
  const declarations = asList(props.parameters, 'parameters') as unknown as ParameterDeclaration[];
  const graph = substituteParameters(
    {
      sources: asList(props.sources, 'sources'),
      processors: asList(props.processors, 'processors'),
      sinks: asList(props.sinks, 'sinks'),
    },
    declarations,
    values,
  );
  const all = [...graph.sources, ...graph.processors, ...graph.sinks];
  const byName = new Map<string, RawNode>();
  for (const node of all) {
    const name = str(node.name, 'every node\'s "name"');
    if (byName.has(name)) fail(`two nodes are named "${name}"`);
    byName.set(name, node);
  }
  if (graph.sources.length !== 1) fail(`the runner needs exactly one source, found ${graph.sources.length}`);
  const source = parseSource(graph.sources[0]!);
  for (const node of all) {
    for (const input of inputNames(node)) {
      if (!byName.has(input)) fail(`node "${String(node.name)}" has input "${input}", which is not a node`);
    }
  }

  const extensions: HttpExtensionSpec[] = [];
  for (const node of graph.processors.filter((n) => shortType(n['@type']) === 'HttpExtension')) {
    const name = String(node.name);
    const sampling = (node.samplingOptions ?? {}) as RawNode;
    const caps: number[] = [];
    if (sampling.maximumSamplesPerSecond !== undefined) {
      caps.push(
        num(sampling.maximumSamplesPerSecond, `${name}.samplingOptions.maximumSamplesPerSecond`, {
          min: 0.001,
          max: 1000,
        }),
      );
    }
    // Walk upstream: frame-rate filters add their cap, the chain must end at the source.
    let inputs = inputNames(node);
    for (;;) {
      if (inputs.length !== 1) fail(`node "${name}" must have exactly one input on its path to the source`);
      const upstream = byName.get(inputs[0]!)!;
      const type = shortType(upstream['@type']);
      if (type === 'RtspSource') break;
      if (type !== 'FrameRateFilterProcessor') {
        fail(
          `node "${name}" is fed by "${String(upstream.name)}" (${type}); the runner feeds extensions from the source or frame-rate filters`,
        );
      }
      caps.push(num(upstream.maximumFps, `${String(upstream.name)}.maximumFps`, { min: 0.001, max: 1000 }));
      inputs = inputNames(upstream);
    }
    const image = (node.image ?? {}) as RawNode;
    const scale = parseScale(image.scale, `${name}.image.scale`);
    extensions.push({
      name,
      endpoint: parseEndpoint(node.endpoint, `${name}.endpoint`),
      ...(scale ? { scale } : {}),
      format: parseFormat(image.format, `${name}.image.format`),
      maximumSamplesPerSecond: caps,
    });
  }
  if (extensions.length === 0) fail('the topology has no HttpExtension node');

  const sinks: SinkSpec[] = graph.sinks.map((node) => {
    const name = String(node.name);
    const inputs = inputNames(node);
    for (const input of inputs) {
      if (shortType(byName.get(input)!['@type']) !== 'HttpExtension') {
        fail(`sink "${name}" reads "${input}": the runner's sinks publish HttpExtension results only`);
      }
    }
    return { name, hubOutputName: typeof node.hubOutputName === 'string' ? node.hubOutputName : name, inputs };
  });

  return {
    topologyName: typeof file.name === 'string' ? file.name : 'topology',
    apiVersion: typeof file['@apiVersion'] === 'string' ? file['@apiVersion'] : '',
    source,
    extensions,
    sinks,
  };
}

import { isRawFormat, type RawFormat } from '../contract/pixel-format.js';
import { HxError } from '../errors.js';
import { bool, fail, num, type RawNode, shortType, str } from './topology-values.js';

/**
 * The properties the vendor's extension nodes share (`ExtensionProcessorBase`: endpoint, image, samplingOptions),
 * and what each kind adds: nothing for `HttpExtension`, `dataTransfer` and `extensionConfiguration` for
 * `GrpcExtension`. Endpoints and credentials are read here for the source too.
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

/** What both extension nodes read from the topology. */
export interface ExtensionSpec {
  name: string;
  endpoint: EndpointSpec;
  /** Absent: frames are sent at their native size. */
  scale?: ScaleSpec;
  format: ImageFormatSpec;
  /** Cap on samples per second, by presentation time (`samplingOptions.maximumSamplesPerSecond`). */
  maximumSamplesPerSecond: number[];
  /** `samplingOptions.skipSamplesWithoutAnnotation`: send only frames an upstream node annotated (e.g. motion). */
  skipSamplesWithoutAnnotation?: boolean;
}

export type HttpExtensionSpec = ExtensionSpec;

export type DataTransfer = { mode: 'embedded' } | { mode: 'sharedMemory'; sizeMiB: number };

export interface GrpcExtensionSpec extends ExtensionSpec {
  /** `host:port`, from the vendor's `tcp://host:port`. */
  address: string;
  dataTransfer: DataTransfer;
  /** Sent unchanged in the stream's descriptor (`extension_configuration`); empty when absent. */
  extensionConfiguration: string;
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

export function parseEndpoint(raw: unknown, where: string): EndpointSpec {
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

function parseExtensionBase(node: RawNode, name: string): ExtensionSpec {
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
  const image = (node.image ?? {}) as RawNode;
  const scale = parseScale(image.scale, `${name}.image.scale`);
  return {
    name,
    endpoint: parseEndpoint(node.endpoint, `${name}.endpoint`),
    ...(scale ? { scale } : {}),
    format: parseFormat(image.format, `${name}.image.format`),
    maximumSamplesPerSecond: caps,
    ...(bool(sampling.skipSamplesWithoutAnnotation) ? { skipSamplesWithoutAnnotation: true } : {}),
  };
}

export function parseHttpExtension(node: RawNode, name: string): HttpExtensionSpec {
  const spec = parseExtensionBase(node, name);
  if (!/^https?:\/\/[^/]/i.test(spec.endpoint.url)) {
    // Checked here: a URL without a scheme would otherwise fail on every frame, for ever.
    fail(`${name}.endpoint.url must be an http:// or https:// URL, not ${spec.endpoint.url}`);
  }
  return spec;
}

/** The most shared memory a node may ask for: the vendor's samples used 5 to 75 MiB. */
const MAX_SHARED_MEMORY_MIB = 4096;

export function parseGrpcExtension(node: RawNode, name: string): GrpcExtensionSpec {
  const spec = parseExtensionBase(node, name);
  // The vendor wrote `tcp://host:port`; a bare `host:port` is what grpc-js itself takes.
  const match = /^(?:tcp:\/\/)?(\[[0-9a-f:.]+\]|[^/:\s]+):(\d{1,5})\/?$/i.exec(spec.endpoint.url);
  if (match === null || Number(match[2]) > 65535) {
    fail(`${name}.endpoint.url must be tcp://host:port, not ${spec.endpoint.url}`);
  }
  const tls = spec.endpoint.tls;
  if (tls?.ignoreSignature && !tls.ignoreHostname) {
    // grpc-js checks the host name only on a chain it verified: it cannot check one without the other.
    fail(
      `${name}.endpoint.validationOptions: ignoreSignature without ignoreHostname cannot be honoured over gRPC; trust the certificate with trustedCertificates instead`,
    );
  }
  const transfer = node.dataTransfer as RawNode | undefined;
  if (transfer === undefined || transfer === null || typeof transfer !== 'object') {
    fail(
      `${name}.dataTransfer is required: {"mode": "embedded"} or {"mode": "sharedMemory", "sharedMemorySizeMiB": "64"}`,
    );
  }
  const mode = String(transfer.mode ?? '').toLowerCase();
  // The swagger says sharedMemorySizeMiB; the vendor's own topologies wrote SharedMemorySizeMiB.
  const size = transfer.sharedMemorySizeMiB ?? transfer.SharedMemorySizeMiB;
  let dataTransfer: DataTransfer;
  if (mode === 'embedded') {
    if (size !== undefined) fail(`${name}.dataTransfer.sharedMemorySizeMiB is only valid with mode sharedMemory`);
    dataTransfer = { mode: 'embedded' };
  } else if (mode === 'sharedmemory') {
    if (size === undefined) fail(`${name}.dataTransfer.sharedMemorySizeMiB is required with mode sharedMemory`);
    dataTransfer = {
      mode: 'sharedMemory',
      sizeMiB: num(size, `${name}.dataTransfer.sharedMemorySizeMiB`, { min: 1, max: MAX_SHARED_MEMORY_MIB }),
    };
  } else {
    return fail(`${name}.dataTransfer.mode must be embedded or sharedMemory, not ${JSON.stringify(transfer.mode)}`);
  }
  const configuration = node.extensionConfiguration;
  if (configuration !== undefined && typeof configuration !== 'string') {
    fail(`${name}.extensionConfiguration must be a string`);
  }
  return {
    ...spec,
    address: `${match[1]}:${match[2]}`,
    dataTransfer,
    extensionConfiguration: configuration ?? '',
  };
}

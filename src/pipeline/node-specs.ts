import { durationMs, fail, num, oneOf, optionalBool, type RawNode, str } from './topology-values.js';

/**
 * The properties of the nodes that analyse, gate and record, read as the vendor's REST specification defines them
 * (`../shared/vendor/spec/`: AVA 1.1 and LVA 1.0 / 2.0), with the vendor's defaults where it gave one.
 */

export type Sensitivity = 'low' | 'medium' | 'high';

export interface MotionSpec {
  sensitivity: Sensitivity;
  outputMotionRegion: boolean;
  /** 0 = one event per frame with motion. */
  eventAggregationWindowMs: number;
}

export function parseMotion(node: RawNode, name: string): MotionSpec {
  return {
    // The vendor gave no default; its samples all use medium.
    sensitivity: oneOf(node.sensitivity, `${name}.sensitivity`, ['low', 'medium', 'high'] as const, 'medium'),
    outputMotionRegion: optionalBool(node.outputMotionRegion, `${name}.outputMotionRegion`, true),
    eventAggregationWindowMs: durationMs(node.eventAggregationWindow, `${name}.eventAggregationWindow`, 1000, {
      max: 3_600_000,
    }),
  };
}

export interface GateSpec {
  activationEvaluationWindowMs: number;
  /** Negative: the recording starts before the event (pre-roll from the gate's buffer). */
  activationSignalOffsetMs: number;
  minimumActivationTimeMs: number;
  maximumActivationTimeMs: number;
}

const MINUTE = 60_000;
const HOUR = 3_600_000;

/**
 * The vendor documented ranges (window 0..10 s, offset -1..+1 min, activation times up to 1 h) and gave no defaults:
 * the defaults are its EVR samples' values. The documented 10 s minimum activation time is not enforced: the
 * vendor's own swagger examples use PT1S and PT2S.
 */
export function parseGate(node: RawNode, name: string): GateSpec {
  const spec: GateSpec = {
    activationEvaluationWindowMs: durationMs(
      node.activationEvaluationWindow,
      `${name}.activationEvaluationWindow`,
      1000,
      {
        max: 10_000,
      },
    ),
    activationSignalOffsetMs: durationMs(node.activationSignalOffset, `${name}.activationSignalOffset`, 0, {
      min: -MINUTE,
      max: MINUTE,
    }),
    minimumActivationTimeMs: durationMs(node.minimumActivationTime, `${name}.minimumActivationTime`, 10_000, {
      max: HOUR,
    }),
    maximumActivationTimeMs: durationMs(node.maximumActivationTime, `${name}.maximumActivationTime`, 30_000, {
      max: HOUR,
    }),
  };
  if (spec.maximumActivationTimeMs < spec.minimumActivationTimeMs) {
    fail(`${name}.maximumActivationTime must not be shorter than minimumActivationTime`);
  }
  if (spec.maximumActivationTimeMs === 0) fail(`${name}.maximumActivationTime must be longer than 0 s`);
  return spec;
}

export interface FileSinkSpec {
  name: string;
  baseDirectoryPath: string;
  /** System variables (`${System.Runtime.DateTime}`, ...) are still in it: they are resolved per file. */
  fileNamePattern: string;
  /** Absent (LVA 1.0): no cap. */
  maximumSizeMiB?: number;
}

/** `VideoSink` (AVA) and `AssetSink` (LVA): recorded into a local media store instead of the retired cloud service. */
export interface VideoSinkSpec {
  name: string;
  /** `videoName` (AVA) or `assetNamePattern` (LVA), system variables still in it: one folder per resolved name. */
  namePattern: string;
  outputType: 'videoName' | 'assetName';
  localMediaCachePath: string;
  /** Retention cap over the sink's segments, oldest deleted first. */
  localMediaCacheMaximumSizeMiB: number;
  segmentLengthMs: number;
  title?: string;
  description?: string;
}

/**
 * The vendor allowed 30 s to 5 min in 30 s steps (each segment was a cloud storage transaction); a local store has
 * no such cost, so any length from 1 s to 1 h is taken, 30 s (the vendor's default) when absent.
 */
export function parseVideoSink(node: RawNode, name: string, lva: boolean): VideoSinkSpec {
  const key = lva ? 'assetNamePattern' : 'videoName';
  const namePattern = str(node[key], `${name}.${key}`);
  if (lva && !hasSystemVariable(namePattern)) {
    fail(`${name}.assetNamePattern must contain at least one system variable, e.g. \${System.DateTime}`);
  }
  const creation = (node.videoCreationProperties ?? {}) as RawNode;
  const segment = lva ? node.segmentLength : creation.segmentLength;
  const text = (v: unknown) => (typeof v === 'string' && v !== '' ? v : undefined);
  const title = text(creation.title);
  const description = text(creation.description);
  return {
    name,
    namePattern,
    outputType: lva ? 'assetName' : 'videoName',
    localMediaCachePath: str(node.localMediaCachePath, `${name}.localMediaCachePath`),
    localMediaCacheMaximumSizeMiB: num(node.localMediaCacheMaximumSizeMiB, `${name}.localMediaCacheMaximumSizeMiB`, {
      min: 1,
    }),
    segmentLengthMs: durationMs(segment, `${name}.segmentLength`, 30_000, { min: 1000, max: HOUR }),
    ...(title === undefined ? {} : { title }),
    ...(description === undefined ? {} : { description }),
  };
}

export const SYSTEM_VARIABLES = [
  'System.TopologyName',
  'System.PipelineName',
  'System.GraphTopologyName',
  'System.GraphInstanceName',
  'System.DateTime',
  'System.Runtime.DateTime',
  'System.Runtime.PreciseDateTime',
] as const;

const SYSTEM_REFERENCE = /\$\{(System\.[^}]*)\}/g;

export function hasSystemVariable(text: string): boolean {
  return /\$\{System\.[^}]*\}/.test(text);
}

export function parseFileSink(node: RawNode, name: string): FileSinkSpec {
  if (node.filePathPattern !== undefined) {
    // LVA 1.0: one absolute path pattern, no size cap.
    const pattern = str(node.filePathPattern, `${name}.filePathPattern`);
    const slash = pattern.lastIndexOf('/');
    return {
      name,
      baseDirectoryPath: slash > 0 ? pattern.slice(0, slash) : '/',
      fileNamePattern: pattern.slice(slash + 1).replace(/\.mp4$/i, ''),
    };
  }
  const fileNamePattern = str(node.fileNamePattern, `${name}.fileNamePattern`);
  if (!hasSystemVariable(fileNamePattern)) {
    // The vendor required one so that each recording gets its own file.
    fail(`${name}.fileNamePattern must contain at least one system variable, e.g. \${System.Runtime.DateTime}`);
  }
  const maximumSizeMiB =
    node.maximumSizeMiB === undefined ? undefined : num(node.maximumSizeMiB, `${name}.maximumSizeMiB`, { min: 1 });
  return {
    name,
    baseDirectoryPath: str(node.baseDirectoryPath, `${name}.baseDirectoryPath`),
    fileNamePattern,
    ...(maximumSizeMiB === undefined ? {} : { maximumSizeMiB }),
  };
}

/** Refuses a `${System.X}` the vendor did not define, at parse time rather than when the first file is written. */
export function checkSystemVariables(text: string, where: string): void {
  for (const m of text.matchAll(SYSTEM_REFERENCE)) {
    if (!(SYSTEM_VARIABLES as readonly string[]).includes(m[1]!)) {
      fail(`${where}: \${${m[1]}} is not a system variable (there are: ${SYSTEM_VARIABLES.join(', ')})`);
    }
  }
}

export interface SystemContext {
  topologyName: string;
  pipelineName: string;
}

/** `YYYYMMDDThhmmssZ` (and `.mmm` for the precise form): ISO 8601 basic, safe in file names. */
function basicUtc(at: Date, precise: boolean): string {
  const iso = at.toISOString(); // 2020-02-22T17:32:00.123Z
  const compact = iso.replace(/[-:]/g, '');
  return precise ? compact : compact.replace(/\.\d{3}Z$/, 'Z');
}

/** Replaces the system variables in `text` as the vendor did; `at` is the time the recording starts. */
export function resolveSystemVariables(text: string, context: SystemContext, at: Date): string {
  return text.replace(SYSTEM_REFERENCE, (whole, name: string) => {
    switch (name) {
      case 'System.TopologyName':
      case 'System.GraphTopologyName':
        return context.topologyName;
      case 'System.PipelineName':
      case 'System.GraphInstanceName':
        return context.pipelineName;
      case 'System.DateTime':
      case 'System.Runtime.DateTime':
        return basicUtc(at, false);
      case 'System.Runtime.PreciseDateTime':
        return basicUtc(at, true);
      default:
        return whole;
    }
  });
}

export interface HubSourceSpec {
  name: string;
  hubInputName: string;
}

export type TrackingAccuracy = 'low' | 'medium' | 'high';

export interface TrackingSpec {
  accuracy: TrackingAccuracy;
}

export function parseTracking(node: RawNode, name: string): TrackingSpec {
  // The vendor gave no default; medium is the middle of its three settings.
  return { accuracy: oneOf(node.accuracy, `${name}.accuracy`, ['low', 'medium', 'high'] as const, 'medium') };
}

export interface NamedLine {
  name: string;
  start: [number, number];
  end: [number, number];
}

export interface LineCrossingSpec {
  lines: NamedLine[];
}

function point(value: unknown, where: string): [number, number] {
  if (!Array.isArray(value) || value.length !== 2) fail(`${where} must be a point [x, y]`);
  const [x, y] = value.map((v, i) => num(v, `${where}[${i}]`, { min: 0, max: 1 }));
  return [x!, y!];
}

/**
 * `lines[]`: `#Microsoft.VideoAnalyzer.NamedLineString {name, line}`, `line` a string holding the JSON of two points
 * `[[x1,y1],[x2,y2]]` in frame ratios (the vendor typed it as a string so that a parameter can stand in for it).
 */
export function parseLineCrossing(node: RawNode, name: string): LineCrossingSpec {
  if (!Array.isArray(node.lines) || node.lines.length === 0) fail(`${name}.lines must be a non-empty array`);
  const names = new Set<string>();
  const lines = node.lines.map((raw: unknown, i): NamedLine => {
    const where = `${name}.lines[${i}]`;
    const line = (raw ?? {}) as RawNode;
    const lineName = str(line.name, `${where}.name`);
    if (names.has(lineName)) fail(`${where}.name: two lines are named "${lineName}"`);
    names.add(lineName);
    let points: unknown = line.line;
    if (typeof points === 'string') {
      try {
        points = JSON.parse(points);
      } catch {
        fail(
          `${where}.line must be the JSON of two points, e.g. "[[0.5,0.1],[0.5,0.9]]", not ${JSON.stringify(line.line)}`,
        );
      }
    }
    if (!Array.isArray(points) || points.length !== 2) {
      fail(`${where}.line must hold exactly two points [[x1,y1],[x2,y2]], not ${JSON.stringify(line.line)}`);
    }
    const start = point(points[0], `${where}.line[0]`);
    const end = point(points[1], `${where}.line[1]`);
    if (Math.hypot(end[0] - start[0], end[1] - start[1]) < 1e-3) fail(`${where}.line: its two points are the same`);
    return { name: lineName, start, end };
  });
  return { lines };
}

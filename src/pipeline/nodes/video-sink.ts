import { appendFile, mkdir, readdir, readFile, rename, rmdir, stat, unlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { AnalyticsEvent, MediaItem, NodeContext, RuntimeNode } from '../graph.js';
import type { AccessUnit } from '../mpegts.js';
import { resolveSystemVariables, type VideoSinkSpec } from '../node-specs.js';
import { deleteOldest, Mp4Writer, patternRegex, RecordingEvents, type StoredFile } from './recording.js';

export interface VideoSinkOptions {
  /** `localMediaCachePath`, resolved under `--media-root`: the media store. */
  directory: string;
  pipelineName: string;
  ffmpegPath?: string;
}

/** One entry of a video's `index.json`. */
export interface SegmentEntry {
  file: string;
  /** Wall-clock time of the first frame (the runner's absolute clock). */
  startTime: string;
  /** The same instant in 90 kHz ticks since the epoch, as event `timestamp`s are. */
  timestamp: number;
  durationSeconds: number;
  sizeBytes: number;
}

/** `index.json` of a video (AVA `videoName`) or asset (LVA `assetNamePattern` resolved): see docs/pipeline.md. */
export interface VideoIndex {
  name: string;
  outputType: 'videoName' | 'assetName';
  title?: string;
  description?: string;
  segmentLengthSeconds: number;
  segments: SegmentEntry[];
}

const METADATA = 'inferences.jsonl';

/** `20261203T062000.123Z.mp4`: the segment's start, sortable, safe in file names. */
const SEGMENT_FILE = /^(\d{4})(\d\d)(\d\d)T(\d\d)(\d\d)(\d\d)\.(\d{3})Z\.mp4$/;

function segmentFile(ms: number): string {
  return `${new Date(ms).toISOString().replace(/[-:]/g, '')}`.replace(/Z$/, 'Z.mp4');
}

function segmentTime(file: string): number {
  const m = SEGMENT_FILE.exec(file);
  return m === null ? 0 : Date.parse(`${m[1]}-${m[2]}-${m[3]}T${m[4]}:${m[5]}:${m[6]}.${m[7]}Z`);
}

interface OpenSegment {
  writer: Mp4Writer;
  file: string;
  firstPts: number;
  /** Its first frame on the absolute 90 kHz clock. */
  start90k: number;
}

interface Recording {
  name: string;
  folder: string;
  index: VideoIndex;
  /** Set when the folder could not be made: packets are ignored until the recording stops. */
  broken: boolean;
  available: boolean;
  segment?: OpenSegment;
  lastPts: number;
  /** Last frame interval seen, for the duration of the last segment. */
  step: number;
}

/**
 * `VideoSink` (AVA) and `AssetSink` (LVA). The vendor uploaded to its cloud service, which is retired: this records
 * into a local media store instead, one folder per video (`videoName`) or asset (`assetNamePattern` with its system
 * variables resolved) under `localMediaCachePath`, as MP4 segments of `segmentLength` cut on keyframes (stream copy,
 * each one playable alone), listed with their start times in the folder's `index.json` (and `index.ffconcat`, to
 * play them back to back). Continuous recording when it reads the source, event-based when it reads a signal gate
 * (each activation appends to the same video, as the vendor's did). `localMediaCacheMaximumSizeMiB` caps the sink's
 * segments, the oldest deleted first. Events: RecordingStarted when a recording begins, RecordingAvailable once its
 * first segment is written, RecordingStopped when it ends (gate closed or pipeline stopped).
 */
export class VideoSinkNode implements RuntimeNode {
  readonly name: string;
  /** Recordings stopped with at least one segment (for totals). */
  recordings = 0;
  segments = 0;
  private recording: Recording | undefined;
  /** Segments are finalised (ffmpeg's faststart pass, index, cap) behind the live one, in order. */
  private finishing: Promise<void> = Promise.resolve();
  private readonly events: RecordingEvents;
  private readonly folderPattern: RegExp;
  private readonly segment90k: number;
  private metadataFailed = false;
  /** Appends and the retention's rewrites of `inferences.jsonl` take turns (the rewrite runs behind the live video). */
  private metadataTurn: Promise<void> = Promise.resolve();

  constructor(
    readonly spec: VideoSinkSpec,
    private readonly context: NodeContext,
    private readonly options: VideoSinkOptions,
  ) {
    this.name = spec.name;
    this.events = new RecordingEvents(context, spec.name, spec.outputType);
    this.folderPattern = patternRegex(spec.namePattern, this.system());
    this.segment90k = (spec.segmentLengthMs * 90_000) / 1000;
  }

  private system() {
    return { topologyName: this.context.topologyName, pipelineName: this.options.pipelineName };
  }

  status(): string {
    return `${this.name} ${this.recording === undefined ? 'idle' : 'recording'}, ${this.recordings} recorded`;
  }

  async receive(item: MediaItem): Promise<void> {
    if (item.kind === 'segment' && item.phase === 'start') {
      await this.stop();
      await this.start(item.startedAt ?? new Date());
    } else if (item.kind === 'segment') {
      await this.stop();
    } else if (item.kind === 'packet') {
      // Straight from the source (continuous recording), the first packet starts the recording.
      if (this.recording === undefined) {
        await this.start(new Date((this.context.naming.epoch90k() + item.packet.pts90k) / 90));
      }
      await this.packet(item.packet, item.header);
    } else if (item.kind === 'event') {
      await this.metadata(item.event);
    }
  }

  /**
   * Inference metadata recorded with the video, as the vendor's sink did with the events it read: one JSON line per
   * event in the video's `inferences.jsonl`, on the clock of the segments' timestamps.
   */
  private async metadata(event: AnalyticsEvent): Promise<void> {
    const r = this.recording;
    if (r === undefined || r.broken) return;
    const line = { timestamp: this.context.naming.epoch90k() + event.pts90k, node: event.node, ...event.body };
    try {
      await this.inTurn(() => appendFile(join(r.folder, METADATA), `${JSON.stringify(line)}\n`));
    } catch (error) {
      if (!this.metadataFailed) this.context.notice(`${this.name}: cannot record inference metadata: ${String(error)}`);
      this.metadataFailed = true;
    }
  }

  async end(): Promise<void> {
    await this.stop();
  }

  private async start(startedAt: Date): Promise<void> {
    const name = resolveSystemVariables(this.spec.namePattern, this.system(), startedAt);
    const folder = join(this.options.directory, name);
    const recording: Recording = {
      name,
      folder,
      index: {
        name,
        outputType: this.spec.outputType,
        ...(this.spec.title === undefined ? {} : { title: this.spec.title }),
        ...(this.spec.description === undefined ? {} : { description: this.spec.description }),
        segmentLengthSeconds: this.spec.segmentLengthMs / 1000,
        segments: [],
      },
      broken: false,
      available: false,
      lastPts: Number.NEGATIVE_INFINITY,
      step: 0,
    };
    this.recording = recording;
    try {
      await mkdir(folder, { recursive: true });
      // An existing video is appended to, as the vendor's was.
      recording.index.segments = (await readIndex(folder))?.segments ?? [];
    } catch (error) {
      recording.broken = true;
      await this.events.problem(folder, error);
      return;
    }
    await this.events.emit('RecordingStarted', name);
  }

  private async packet(packet: AccessUnit, header: Buffer): Promise<void> {
    const r = this.recording!;
    if (r.broken) return;
    if (packet.pts90k > r.lastPts && Number.isFinite(r.lastPts)) r.step = packet.pts90k - r.lastPts;
    if (packet.key) {
      if (r.segment !== undefined && packet.pts90k - r.segment.firstPts >= this.segment90k) {
        this.close(r, packet.pts90k);
      }
      if (r.segment === undefined) {
        const start90k = this.context.naming.epoch90k() + packet.pts90k;
        const file = segmentFile(Math.floor(start90k / 90));
        r.segment = {
          writer: new Mp4Writer(join(r.folder, file), this.options.ffmpegPath),
          file,
          firstPts: packet.pts90k,
          start90k,
        };
        await r.segment.writer.write(header);
      }
    }
    r.lastPts = Math.max(r.lastPts, packet.pts90k);
    // Until the first keyframe there is nothing a segment could start with.
    await r.segment?.writer.write(packet.data);
  }

  /** Ends the open segment at `endPts`; it is finalised in the background, in order, while the next one records. */
  private close(r: Recording, endPts: number): void {
    const s = r.segment;
    if (s === undefined) return;
    r.segment = undefined;
    const durationSeconds = Math.max(0, endPts - s.firstPts) / 90_000;
    this.finishing = this.finishing.then(async () => {
      const error = await s.writer.finish();
      if (error !== undefined) {
        await this.events.problem(s.writer.path, error);
        return;
      }
      try {
        const { size } = await stat(s.writer.path);
        r.index.segments.push({
          file: s.file,
          startTime: new Date(Math.floor(s.start90k / 90)).toISOString(),
          timestamp: s.start90k,
          durationSeconds: Math.round(durationSeconds * 1000) / 1000,
          sizeBytes: size,
        });
        await writeIndex(r.folder, r.index);
      } catch (error) {
        await this.events.problem(s.writer.path, error);
        return;
      }
      this.segments++;
      if (!r.available) {
        r.available = true;
        await this.events.emit('RecordingAvailable', r.name);
      }
      await this.enforceCap(r);
    });
  }

  private async stop(): Promise<void> {
    const r = this.recording;
    if (r === undefined) return;
    this.recording = undefined;
    this.close(r, r.lastPts + r.step);
    await this.finishing;
    if (r.broken) return;
    if (r.available) this.recordings++;
    await this.events.emit('RecordingStopped', r.name);
  }

  private inTurn(work: () => Promise<void>): Promise<void> {
    const turn = this.metadataTurn.then(work);
    this.metadataTurn = turn.catch(() => {});
    return turn;
  }

  /** The sink's segments, in every folder its name pattern produced, oldest first, until they fit the cap. */
  private async enforceCap(current: Recording): Promise<void> {
    try {
      const folders = (await readdir(this.options.directory)).filter((n) => this.folderPattern.test(n));
      const files: StoredFile[] = [];
      for (const name of folders) {
        const folder = join(this.options.directory, name);
        for (const file of await readdir(folder).catch(() => [] as string[])) {
          if (!SEGMENT_FILE.test(file)) continue;
          const path = join(folder, file);
          files.push({ path, size: (await stat(path)).size, age: segmentTime(file) });
        }
      }
      const live = this.recording?.segment?.writer.path;
      const deleted = await deleteOldest(
        files,
        this.spec.localMediaCacheMaximumSizeMiB,
        new Set(live === undefined ? [] : [live]),
      );
      const byFolder = new Map<string, Set<string>>();
      for (const path of deleted) {
        const folder = path.slice(0, path.lastIndexOf('/'));
        byFolder.set(folder, (byFolder.get(folder) ?? new Set()).add(path.slice(folder.length + 1)));
      }
      for (const [folder, gone] of byFolder) {
        const isCurrent = folder === current.folder || folder === this.recording?.folder;
        const index = isCurrent ? current.index : await readIndex(folder);
        if (index === undefined) continue;
        index.segments = index.segments.filter((s) => !gone.has(s.file));
        if (index.segments.length === 0 && !isCurrent) {
          // An asset whose last segment went: the folder goes too.
          await unlink(join(folder, 'index.json')).catch(() => {});
          await unlink(join(folder, 'index.ffconcat')).catch(() => {});
          await unlink(join(folder, METADATA)).catch(() => {});
          await rmdir(folder).catch(() => {});
        } else {
          await writeIndex(folder, index);
          const from = index.segments[0]?.timestamp ?? Number.POSITIVE_INFINITY;
          await this.inTurn(() => trimMetadata(folder, from));
        }
      }
    } catch (error) {
      this.context.notice(`${this.name}: cannot apply localMediaCacheMaximumSizeMiB: ${String(error)}`);
    }
  }
}

/** Drops the metadata of deleted media: the lines before `from90k` (the oldest segment kept). */
async function trimMetadata(folder: string, from90k: number): Promise<void> {
  let text: string;
  try {
    text = await readFile(join(folder, METADATA), 'utf8');
  } catch {
    return;
  }
  const kept = text.split('\n').filter((line) => {
    if (line === '') return false;
    try {
      return (JSON.parse(line) as { timestamp?: number }).timestamp! >= from90k;
    } catch {
      return false;
    }
  });
  await writeFile(join(folder, `${METADATA}.tmp`), kept.map((l) => `${l}\n`).join(''));
  await rename(join(folder, `${METADATA}.tmp`), join(folder, METADATA));
}

async function readIndex(folder: string): Promise<VideoIndex | undefined> {
  let text: string;
  try {
    text = await readFile(join(folder, 'index.json'), 'utf8');
  } catch {
    return undefined;
  }
  try {
    const index = JSON.parse(text) as VideoIndex;
    return Array.isArray(index.segments) ? index : undefined;
  } catch {
    return undefined; // a torn index: the segments on disk are still there, the new index lists what follows
  }
}

/** Written beside and renamed, so a reader never sees half an index. */
async function writeIndex(folder: string, index: VideoIndex): Promise<void> {
  const concat = ['ffconcat version 1.0', ...index.segments.map((s) => `file ${s.file}`), ''].join('\n');
  await writeFile(join(folder, 'index.ffconcat.tmp'), concat);
  await rename(join(folder, 'index.ffconcat.tmp'), join(folder, 'index.ffconcat'));
  await writeFile(join(folder, 'index.json.tmp'), `${JSON.stringify(index, null, 2)}\n`);
  await rename(join(folder, 'index.json.tmp'), join(folder, 'index.json'));
}

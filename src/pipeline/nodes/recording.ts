import { type ChildProcess, spawn } from 'node:child_process';
import { unlink } from 'node:fs/promises';
import { findFfmpeg } from '../ffmpeg.js';
import type { NodeContext } from '../graph.js';
import { resolveSystemVariables, type SystemContext } from '../node-specs.js';
import { nodeEvent } from '../pipeline-message.js';

/**
 * What the recording sinks (FileSink, VideoSink / AssetSink) share: an ffmpeg that stream-copies the camera's
 * packets (MPEG-TS, as they arrived) into one playable MP4, the vendor's Recording* operational events and the
 * RecordingError diagnostics event, and deleting the oldest recordings to stay under a size cap.
 */

/** One MP4 being written: `write` waits for the disk (never a silent drop), `finish` reports whether it is whole. */
export class Mp4Writer {
  private readonly child: ChildProcess;
  private readonly exited: Promise<{ code: number | null; stderr: string }>;
  private failed = false;

  constructor(
    readonly path: string,
    ffmpegPath: string | undefined,
  ) {
    this.child = spawn(
      findFfmpeg(ffmpegPath),
      ['-hide_banner', '-nostdin', '-loglevel', 'error', '-f', 'mpegts', '-i', 'pipe:0'].concat(
        // moov atom first, so a browser plays it from the start.
        ['-map', '0:v:0', '-c', 'copy', '-movflags', '+faststart', '-f', 'mp4', '-y', path],
      ),
      { stdio: ['pipe', 'ignore', 'pipe'] },
    );
    let stderr = '';
    this.child.stderr!.setEncoding('utf8').on('data', (t: string) => (stderr = (stderr + t).slice(-2000)));
    this.exited = new Promise((resolve) => {
      this.child.on('error', (error) => resolve({ code: -1, stderr: error.message }));
      this.child.on('close', (code) => resolve({ code, stderr }));
    });
    // A broken pipe (ffmpeg died: disk full) is reported once, by `finish`.
    this.child.stdin!.on('error', () => {
      this.failed = true;
    });
  }

  async write(data: Buffer): Promise<void> {
    const stdin = this.child.stdin!;
    if (this.failed || stdin.destroyed || data.length === 0) return;
    // Back-pressure: the pipeline waits for the disk, so what a lagging sink holds stays bounded.
    if (!stdin.write(data)) {
      await new Promise<void>((resolve) => {
        const done = () => {
          stdin.off('drain', done);
          stdin.off('close', done);
          resolve();
        };
        stdin.on('drain', done);
        stdin.on('close', done);
      });
    }
  }

  /** Ends the input; resolves with an error when ffmpeg did not write a whole file. */
  async finish(): Promise<Error | undefined> {
    this.child.stdin!.end();
    const { code, stderr } = await this.exited;
    if (code === 0 && !this.failed) return undefined;
    return new Error(`ffmpeg exited with code ${code}: ${stderr.trim().split('\n').slice(-2).join(' | ')}`);
  }
}

/** The vendor's `outputType` of each sink: FileSink `filePath`, VideoSink `videoName`, AssetSink `assetName`. */
export type OutputType = 'filePath' | 'videoName' | 'assetName';

/** Publishes a sink's operational and diagnostics events (subject `.../sinks/{name}`). */
export class RecordingEvents {
  constructor(
    private readonly context: NodeContext,
    private readonly node: string,
    private readonly outputType: OutputType,
  ) {}

  async emit(name: 'RecordingStarted' | 'RecordingAvailable' | 'RecordingStopped', location: string): Promise<void> {
    await this.context.publish(
      nodeEvent(this.context.naming, 'Operational', name, this.node, 'sinks', {
        outputType: this.outputType,
        outputLocation: location,
      }),
    );
  }

  /** A folder that cannot be made, a write that failed: a notice and a diagnostics event; the pipeline goes on. */
  async problem(location: string, error: unknown): Promise<void> {
    const code = (error as { code?: unknown }).code;
    const message = error instanceof Error ? error.message : String(error);
    this.context.notice(`${this.node}: cannot record ${location}: ${message}`);
    await this.context.publish(
      nodeEvent(this.context.naming, 'Diagnostics', 'RecordingError', this.node, 'sinks', {
        outputType: this.outputType,
        outputLocation: location,
        errorCode: typeof code === 'string' ? code : 'RecordingFailed',
        errorMessage: message,
      }),
    );
  }
}

const escapeRegex = (text: string) => text.replace(/[.*+?^$()|[\]\\{}]/g, '\\$&');

/** A name pattern as a regular expression for what the sink wrote: date-time variables match any text. */
export function patternRegex(pattern: string, context: SystemContext, suffix = ''): RegExp {
  const body = pattern
    .split(/(\$\{System\.[^}]*\})/)
    .map((part) => {
      if (!part.startsWith('${System.')) return escapeRegex(part);
      return part.includes('DateTime') ? '.+' : escapeRegex(resolveSystemVariables(part, context, new Date(0)));
    })
    .join('');
  return new RegExp(`^${body}${escapeRegex(suffix)}$`);
}

export interface StoredFile {
  path: string;
  size: number;
  /** Sort key, oldest first. */
  age: number;
}

/** Deletes the oldest `files` (never those in `keep`) until the rest fit in `capMiB`; returns the deleted paths. */
export async function deleteOldest(
  files: readonly StoredFile[],
  capMiB: number,
  keep: ReadonlySet<string>,
): Promise<string[]> {
  const sorted = [...files].sort((a, b) => a.age - b.age || a.path.localeCompare(b.path));
  let total = sorted.reduce((sum, f) => sum + f.size, 0);
  const deleted: string[] = [];
  for (const f of sorted) {
    if (total <= capMiB * 1024 * 1024) break;
    if (keep.has(f.path)) continue;
    await unlink(f.path);
    total -= f.size;
    deleted.push(f.path);
  }
  return deleted;
}

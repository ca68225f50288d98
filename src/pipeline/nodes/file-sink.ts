import { type ChildProcess, spawn } from 'node:child_process';
import { mkdir, readdir, stat, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { findFfmpeg } from '../ffmpeg.js';
import type { MediaItem, NodeContext, RuntimeNode } from '../graph.js';
import { type FileSinkSpec, resolveSystemVariables } from '../node-specs.js';
import { nodeEvent } from '../pipeline-message.js';

export interface FileSinkOptions {
  /** The directory the topology's `baseDirectoryPath` is resolved to (`--media-root`). */
  directory: string;
  pipelineName: string;
  ffmpegPath?: string;
}

interface Recording {
  path: string;
  child: ChildProcess;
  exited: Promise<{ code: number | null; stderr: string }>;
  failed: boolean;
}

/** A file name pattern as a regular expression: what this sink wrote, system variables being any text. */
function patternRegex(pattern: string, context: { topologyName: string; pipelineName: string }): RegExp {
  const parts = pattern.split(/(\$\{System\.[^}]*\})/);
  const body = parts
    .map((part) => {
      if (!part.startsWith('${System.')) return part.replace(/[.*+?^$()|[\]\\{}]/g, '\\$&');
      const fixed = resolveSystemVariables(part, context, new Date(0));
      return part.includes('DateTime') ? '.+' : fixed.replace(/[.*+?^$()|[\]\\{}]/g, '\\$&');
    })
    .join('');
  return new RegExp(`^${body}\\.mp4$`);
}

/**
 * `FileSink`: one MP4 per activation of the signal gate upstream, a stream copy of the camera's video (no re-encode),
 * starting on the keyframe the gate chose: the packets are fed, as the MPEG-TS they arrived in, to an ffmpeg that
 * muxes them into `baseDirectoryPath/fileNamePattern.mp4` (moov atom first, so a browser plays it from the start).
 * `maximumSizeMiB` caps what the sink keeps: after each recording its oldest files are deleted. A folder that cannot
 * be created or a write that fails is a diagnostics event and a notice; the pipeline keeps analysing.
 */
export class FileSinkNode implements RuntimeNode {
  readonly name: string;
  private recording: Recording | undefined;
  /** Files written (for totals). */
  recordings = 0;
  private readonly namePattern: RegExp;

  constructor(
    readonly spec: FileSinkSpec,
    private readonly context: NodeContext,
    private readonly options: FileSinkOptions,
  ) {
    this.name = spec.name;
    this.namePattern = patternRegex(spec.fileNamePattern, {
      topologyName: context.topologyName,
      pipelineName: options.pipelineName,
    });
  }

  async receive(item: MediaItem): Promise<void> {
    if (item.kind === 'segment' && item.phase === 'start')
      await this.start(item.header ?? Buffer.alloc(0), item.startedAt);
    else if (item.kind === 'segment') await this.stop();
    else if (item.kind === 'packet') await this.write(item.packet.data);
  }

  async end(): Promise<void> {
    await this.stop();
  }

  private async event(
    name: string,
    body: Record<string, unknown>,
    kind: 'Operational' | 'Diagnostics' = 'Operational',
  ) {
    await this.context.publish(nodeEvent(this.context.naming, kind, name, this.name, 'sinks', body));
  }

  private async problem(path: string, error: unknown): Promise<void> {
    const code = (error as { code?: unknown }).code;
    const message = error instanceof Error ? error.message : String(error);
    this.context.notice(`${this.name}: cannot record ${path}: ${message}`);
    await this.event(
      'RecordingError',
      {
        outputType: 'filePath',
        outputLocation: path,
        errorCode: typeof code === 'string' ? code : 'RecordingFailed',
        errorMessage: message,
      },
      'Diagnostics',
    );
  }

  private async start(header: Buffer, startedAt = new Date()): Promise<void> {
    await this.stop();
    const fileName = resolveSystemVariables(
      this.spec.fileNamePattern,
      { topologyName: this.context.topologyName, pipelineName: this.options.pipelineName },
      startedAt,
    );
    const path = join(this.options.directory, `${fileName}.mp4`);
    try {
      await mkdir(this.options.directory, { recursive: true });
    } catch (error) {
      await this.problem(path, error);
      return;
    }
    const child = spawn(
      findFfmpeg(this.options.ffmpegPath),
      ['-hide_banner', '-nostdin', '-loglevel', 'error', '-f', 'mpegts', '-i', 'pipe:0'].concat([
        '-map',
        '0:v:0',
        '-c',
        'copy',
        '-movflags',
        '+faststart',
        '-f',
        'mp4',
        '-y',
        path,
      ]),
      { stdio: ['pipe', 'ignore', 'pipe'] },
    );
    let stderr = '';
    child.stderr!.setEncoding('utf8').on('data', (t: string) => (stderr = (stderr + t).slice(-2000)));
    const exited = new Promise<{ code: number | null; stderr: string }>((resolve) => {
      child.on('error', (error) => resolve({ code: -1, stderr: error.message }));
      child.on('close', (code) => resolve({ code, stderr }));
    });
    const recording: Recording = { path, child, exited, failed: false };
    // A broken pipe (ffmpeg died: disk full) is reported once, when the recording stops.
    child.stdin!.on('error', () => {
      recording.failed = true;
    });
    this.recording = recording;
    await this.event('RecordingStarted', { outputType: 'filePath', outputLocation: path });
    await this.write(header);
  }

  private async write(data: Buffer): Promise<void> {
    const r = this.recording;
    if (r === undefined || r.failed || r.child.stdin!.destroyed) return;
    // Back-pressure, never a silent drop: the pipeline waits for the disk.
    if (!r.child.stdin!.write(data)) {
      await new Promise<void>((resolve) => {
        const done = () => {
          r.child.stdin!.off('drain', done);
          r.child.stdin!.off('close', done);
          resolve();
        };
        r.child.stdin!.on('drain', done);
        r.child.stdin!.on('close', done);
      });
    }
  }

  private async stop(): Promise<void> {
    const r = this.recording;
    if (r === undefined) return;
    this.recording = undefined;
    r.child.stdin!.end();
    const { code, stderr } = await r.exited;
    if (code !== 0 || r.failed) {
      await this.problem(
        r.path,
        new Error(`ffmpeg exited with code ${code}: ${stderr.trim().split('\n').slice(-2).join(' | ')}`),
      );
      return;
    }
    this.recordings++;
    await this.event('RecordingAvailable', { outputType: 'filePath', outputLocation: r.path });
    await this.event('RecordingStopped', { outputType: 'filePath', outputLocation: r.path });
    await this.enforceCap(r.path);
  }

  /** Deletes this sink's oldest files (by name pattern, in its folder) until they fit `maximumSizeMiB`. */
  private async enforceCap(newest: string): Promise<void> {
    const cap = this.spec.maximumSizeMiB;
    if (cap === undefined) return;
    try {
      const names = (await readdir(this.options.directory)).filter((n) => this.namePattern.test(n));
      const files = await Promise.all(
        names.map(async (n) => {
          const path = join(this.options.directory, n);
          const s = await stat(path);
          return { path, size: s.size, mtime: s.mtimeMs };
        }),
      );
      files.sort((a, b) => a.mtime - b.mtime || a.path.localeCompare(b.path));
      let total = files.reduce((sum, f) => sum + f.size, 0);
      for (const f of files) {
        if (total <= cap * 1024 * 1024 || f.path === newest) break;
        await unlink(f.path);
        total -= f.size;
      }
    } catch (error) {
      this.context.notice(`${this.name}: cannot apply maximumSizeMiB: ${String(error)}`);
    }
  }
}

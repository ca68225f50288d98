import { mkdir, readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { MediaItem, NodeContext, RuntimeNode } from '../graph.js';
import { type FileSinkSpec, resolveSystemVariables } from '../node-specs.js';
import { deleteOldest, Mp4Writer, patternRegex, RecordingEvents } from './recording.js';

export interface FileSinkOptions {
  /** The directory the topology's `baseDirectoryPath` is resolved to (`--media-root`). */
  directory: string;
  pipelineName: string;
  ffmpegPath?: string;
}

/**
 * `FileSink`: one MP4 per activation of the signal gate upstream, a stream copy of the camera's video (no re-encode),
 * starting on the keyframe the gate chose, written to `baseDirectoryPath/fileNamePattern.mp4` (see `Mp4Writer`).
 * `maximumSizeMiB` caps what the sink keeps: after each recording its oldest files are deleted. A folder that cannot
 * be created or a write that fails is a diagnostics event and a notice; the pipeline keeps analysing.
 */
export class FileSinkNode implements RuntimeNode {
  readonly name: string;
  private writer: Mp4Writer | undefined;
  /** Files written (for totals). */
  recordings = 0;
  private readonly namePattern: RegExp;
  private readonly events: RecordingEvents;

  constructor(
    readonly spec: FileSinkSpec,
    private readonly context: NodeContext,
    private readonly options: FileSinkOptions,
  ) {
    this.name = spec.name;
    this.events = new RecordingEvents(context, spec.name, 'filePath');
    this.namePattern = patternRegex(
      spec.fileNamePattern,
      { topologyName: context.topologyName, pipelineName: options.pipelineName },
      '.mp4',
    );
  }

  status(): string {
    return `${this.name} ${this.writer === undefined ? 'idle' : 'recording'}, ${this.recordings} recorded`;
  }

  async receive(item: MediaItem): Promise<void> {
    if (item.kind === 'segment' && item.phase === 'start')
      await this.start(item.header ?? Buffer.alloc(0), item.startedAt);
    else if (item.kind === 'segment') await this.stop();
    else if (item.kind === 'packet') await this.writer?.write(item.packet.data);
  }

  async end(): Promise<void> {
    await this.stop();
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
      await this.events.problem(path, error);
      return;
    }
    this.writer = new Mp4Writer(path, this.options.ffmpegPath);
    await this.events.emit('RecordingStarted', path);
    await this.writer.write(header);
  }

  private async stop(): Promise<void> {
    const writer = this.writer;
    if (writer === undefined) return;
    this.writer = undefined;
    const error = await writer.finish();
    if (error !== undefined) {
      await this.events.problem(writer.path, error);
      return;
    }
    this.recordings++;
    await this.events.emit('RecordingAvailable', writer.path);
    await this.events.emit('RecordingStopped', writer.path);
    await this.enforceCap(writer.path);
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
          return { path, size: s.size, age: s.mtimeMs };
        }),
      );
      await deleteOldest(files, cap, new Set([newest]));
    } catch (error) {
      this.context.notice(`${this.name}: cannot apply maximumSizeMiB: ${String(error)}`);
    }
  }
}

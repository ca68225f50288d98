import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { HxError } from '../errors.js';
import { findFfmpeg, hasFpsMode } from './ffmpeg.js';
import { type AccessUnit, TsDemuxer } from './mpegts.js';
import type { SourceSpec } from './topology.js';

/** A camera that refuses us for good (RTSP 401, 403, 404): reconnecting cannot help, so the pipeline ends. */
export class PermanentSourceError extends HxError {
  constructor(
    message: string,
    /** The vendor's diagnostics event for it. */
    readonly diagnostic: 'AuthorizationError' | 'ProtocolError',
    /** The RTSP status. */
    readonly rtspStatus: string,
  ) {
    super('HX_ERR_PIPELINE_SOURCE', message);
  }
}

/** One decoded video frame: tightly packed RGB24 and its presentation time on the 90 kHz clock. */
export interface VideoFrame {
  width: number;
  height: number;
  rgb: Buffer;
  pts90k: number;
}

/** What one ffmpeg run yields: decoded frames, compressed packets, or both, in the order ffmpeg produced them. */
export type SourceItem =
  | { kind: 'frame'; frame: VideoFrame }
  /** `header`: the stream's PAT and PMT, which a recording starting at this packet needs first. */
  | { kind: 'packet'; packet: AccessUnit; header: Buffer };

/** Which of the two outputs downstream nodes need: decoding costs CPU, recording needs the compressed stream. */
export interface SourceOutputs {
  frames: boolean;
  packets: boolean;
  /** Frames no wider than this (scaled by ffmpeg, aspect kept): when every reader works on a small copy anyway. */
  maxFrameWidth?: number;
}

export interface VideoSourceOptions {
  /** Play a file at its native rate (ffmpeg `-re`); false = as fast as the consumer pulls frames. */
  realtime: boolean;
  /** Default: frames only. */
  outputs?: SourceOutputs;
  ffmpegPath?: string;
  /** First reconnect delay for RTSP; doubles up to MAX_RECONNECT_DELAY_MS. */
  reconnectDelayMs?: number;
  /** RTSP: no frame data for this long (a camera that hangs without closing) restarts the connection. */
  stallTimeoutMs?: number;
  /** Compressed video held for a consumer that lags before ffmpeg is held up (default 8 MiB). */
  maxQueuedPacketBytes?: number;
  /** Notices for the log (reconnects, ffmpeg's last words). */
  onNotice?: (message: string) => void;
}

/**
 * Keeps a camera's clock going across reconnects: ffmpeg starts each new session's timestamps afresh (near 0), which
 * would move the pipeline's media time, and so event timestamps, gates and samplers, back into the past. After a
 * reconnect every timestamp is shifted so that the first one follows the last one before the outage by the
 * wall-clock time the outage lasted.
 */
export class ClockContinuity {
  private offset = 0;
  private last: { pts90k: number; wallMs: number } | undefined;
  private restarted = false;

  constructor(private readonly now: () => number = Date.now) {}

  /** A new session begins: its first timestamp sets the shift. */
  restart(): void {
    this.restarted = this.last !== undefined;
  }

  /** The timestamp on the continuous clock. */
  map(pts90k: number): number {
    if (this.restarted) {
      this.restarted = false;
      this.offset = this.last!.pts90k + Math.round((this.now() - this.last!.wallMs) * 90) - pts90k;
    }
    const mapped = pts90k + this.offset;
    if (this.last === undefined || mapped >= this.last.pts90k) this.last = { pts90k: mapped, wallMs: this.now() };
    return mapped;
  }

  /** The shift in force (0 until a reconnect). */
  get shift(): number {
    return this.offset;
  }
}

/** Ceiling of the RTSP reconnect back-off: a camera that stays away is still retried regularly (docs/pipeline.md). */
const MAX_RECONNECT_DELAY_MS = 30_000;

/** Compressed video waiting for the pipeline: a few seconds of a 1080p camera. */
const MAX_QUEUED_PACKET_BYTES = 8 * 1024 * 1024;

const SHOWINFO = /n:\s*(\d+)\s+pts:\s*(-?\d+|NOPTS)\s+pts_time:(\S+).*?\ss:(\d+)x(\d+)/;

/**
 * The ffmpeg command line: decoded RGB24 frames on stdout (one showinfo line per frame on stderr) and/or the
 * source's video stream-copied into MPEG-TS on fd 3, both on the same clock.
 */
export function ffmpegArgs(
  source: SourceSpec,
  realtime: boolean,
  outputs: SourceOutputs = { frames: true, packets: false },
  fpsMode = true,
): string[] {
  const args = ['-hide_banner', '-nostats', '-nostdin', '-loglevel', 'info'];
  let input = source.url;
  if (source.kind === 'rtsp') {
    args.push('-rtsp_transport', source.transport);
    if (source.username) {
      const url = new URL(source.url);
      url.username = encodeURIComponent(source.username);
      url.password = encodeURIComponent(source.password ?? '');
      input = url.href;
    }
  } else {
    input = source.url.startsWith('file://') ? fileURLToPath(source.url) : source.url;
    if (realtime) args.push('-re');
  }
  args.push('-i', input);
  if (outputs.frames) {
    // showinfo prints each frame's PTS and size on stderr, in frame order: the only per-frame metadata a rawvideo
    // pipe can carry. passthrough: never duplicate or drop frames to fake a constant rate.
    const scale =
      outputs.maxFrameWidth === undefined ? '' : `scale=w='min(${outputs.maxFrameWidth},iw)':h=-2:flags=area,`;
    // Without the per-plane checksums and statistics showinfo computes by default, a good part of the decoding's
    // cost. Its checksum option is older than -fps_mode (5.1; the bundled 2018 build has it too): an ffmpeg with
    // -fps_mode surely has it, and the one probe serves both.
    const showinfo = fpsMode ? 'showinfo=checksum=0' : 'showinfo';
    args.push('-map', '0:v:0', '-an', '-vf', `${scale}${showinfo}`, fpsMode ? '-fps_mode' : '-vsync', 'passthrough');
    args.push('-f', 'rawvideo', '-pix_fmt', 'rgb24', 'pipe:1');
  }
  if (outputs.packets) {
    // No mux delay and negative timestamps kept: the packets' PTS are then exactly the decoded frames' PTS.
    args.push('-map', '0:v:0', '-an', '-c:v', 'copy', '-muxdelay', '0', '-muxpreload', '0');
    args.push('-avoid_negative_ts', 'disabled', '-f', 'mpegts', 'pipe:3');
  }
  return args;
}

/**
 * Decodes a source with ffmpeg and yields its frames. A file ends the iteration at its end; an RTSP source that
 * drops or cannot be reached is reconnected with exponential back-off until `stop()` is called, as the vendor's
 * edge module did.
 */
export class VideoSource {
  private child: ChildProcess | undefined;
  private stopped = false;
  private frameTaken: (() => void) | undefined;
  private demuxer: TsDemuxer | undefined;
  private wake: (() => void) | undefined;
  private queuedBytes = 0;

  constructor(
    readonly spec: SourceSpec,
    private readonly options: VideoSourceOptions,
  ) {
    if (spec.kind === 'file') {
      const path = spec.url.startsWith('file://') ? fileURLToPath(spec.url) : spec.url;
      if (!existsSync(path)) throw new HxError('HX_ERR_PIPELINE_SOURCE', `${spec.name}: no such video file: ${path}`);
    }
  }

  /** Compressed bytes read from ffmpeg and not yet taken by the consumer (bounded by `maxQueuedPacketBytes`). */
  get queuedPacketBytes(): number {
    return this.queuedBytes;
  }

  /** The PAT and PMT of the current packet stream: what a recording of it must start with. */
  tsHeader(): Buffer | undefined {
    return this.demuxer?.header();
  }

  stop(): void {
    this.stopped = true;
    this.child?.kill('SIGTERM');
    this.wake?.();
  }

  /** Decoded frames only (the source decodes when `outputs.frames`, the default). */
  async *frames(): AsyncGenerator<VideoFrame> {
    for await (const item of this.items()) if (item.kind === 'frame') yield item.frame;
  }

  async *items(): AsyncGenerator<SourceItem> {
    const base = this.options.reconnectDelayMs ?? 1000;
    let delay = base;
    const clock = new ClockContinuity();
    while (!this.stopped) {
      let count = 0;
      let failure: string | undefined;
      clock.restart();
      try {
        for await (const item of this.runOnce()) {
          count++;
          if (item.kind === 'frame') item.frame.pts90k = clock.map(item.frame.pts90k);
          else {
            const pts = item.packet.pts90k;
            item.packet.pts90k = clock.map(pts);
            item.packet.dts90k += item.packet.pts90k - pts;
          }
          delay = base; // media flows again: the next drop starts the back-off afresh
          yield item;
        }
      } catch (error) {
        if (this.spec.kind === 'file' || this.stopped || error instanceof PermanentSourceError) throw error;
        failure = error instanceof Error ? error.message : String(error);
      }
      if (this.spec.kind === 'file' || this.stopped) return;
      this.options.onNotice?.(
        `${failure ?? `${this.spec.name}: stream ended after ${count} ${this.outputs.frames ? 'frames' : 'packets'}`}; reconnecting in ${delay} ms`,
      );
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, delay);
        this.wake = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      delay = Math.min(delay * 2, MAX_RECONNECT_DELAY_MS);
    }
  }

  private get outputs(): SourceOutputs {
    return this.options.outputs ?? { frames: true, packets: false };
  }

  private async *runOnce(): AsyncGenerator<SourceItem> {
    const outputs = this.outputs;
    const ffmpeg = findFfmpeg(this.options.ffmpegPath);
    const child = spawn(ffmpeg, ffmpegArgs(this.spec, this.options.realtime, outputs, hasFpsMode(ffmpeg)), {
      stdio: ['ignore', 'pipe', 'pipe', 'pipe'],
      // Its own process group: a terminal's Ctrl-C reaches only us, and we stop ffmpeg after the requests in flight
      // (it would otherwise exit 255 first and look like a failed source). If we die, it dies of a broken pipe.
      detached: true,
    });
    this.child = child;
    const infos: { pts: number | undefined; width: number; height: number }[] = [];
    let infoWaiter: (() => void) | undefined;
    const tail: string[] = [];
    let stderrDone = false;
    let partial = '';
    child.stderr!.setEncoding('utf8');
    child.stderr!.on('data', (text: string) => {
      const lines = (partial + text).split(/\r?\n|\r/);
      partial = lines.pop() ?? '';
      for (const line of lines) {
        const m = SHOWINFO.exec(line);
        if (m) {
          const seconds = Number(m[3]);
          infos.push({
            pts: Number.isFinite(seconds) ? Math.round(seconds * 90_000) : undefined,
            width: Number(m[4]),
            height: Number(m[5]),
          });
          infoWaiter?.();
        } else if (line.trim() !== '') {
          // ffmpeg repeats the input URL in its errors: never log an RTSP password.
          tail.push(this.spec.password ? line.replaceAll(this.spec.password, '***') : line);
          if (tail.length > 8) tail.shift();
        }
      }
    });
    child.stderr!.on('end', () => {
      stderrDone = true;
      infoWaiter?.();
    });
    const exited = new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)));
    const spawnError = new Promise<never>((_, reject) =>
      child.on('error', (error) =>
        reject(new HxError('HX_ERR_PIPELINE_SOURCE', `${this.spec.name}: cannot run ffmpeg: ${error.message}`)),
      ),
    );
    spawnError.catch(() => {});

    const nextInfo = async (index: number) => {
      while (infos.length <= index && !stderrDone) {
        await Promise.race([new Promise<void>((resolve) => (infoWaiter = resolve)), spawnError]);
      }
      return infos[index];
    };

    // ffmpeg's own RTSP socket timeout changed name and meaning between versions (-stimeout / -timeout): watch the
    // pipe instead, which also covers a server that accepts the connection and never answers DESCRIBE.
    let stalled = false;
    let watchdog: NodeJS.Timeout | undefined;
    // Off once this run is over: the last words of an ffmpeg being stopped would re-arm it, and the timer would hold
    // the process for a whole stall period after the pipeline ended.
    let watching = true;
    const feed = () => {
      if (this.spec.kind !== 'rtsp' || !watching) return;
      clearTimeout(watchdog);
      watchdog = setTimeout(() => {
        stalled = true;
        child.kill('SIGKILL');
      }, this.options.stallTimeoutMs ?? 15_000);
    };
    feed();

    // Two pipes, one queue: packets are queued as they come (ffmpeg stops demuxing, and so stops writing them, when
    // the frame pipe is full, which bounds them); the frame pipe is paused while frames wait, for back-pressure.
    const queue: SourceItem[] = [];
    let queueWaiter: (() => void) | undefined;
    const wakeQueue = () => {
      const w = queueWaiter;
      queueWaiter = undefined;
      w?.();
    };
    let framesQueued = 0;
    const maxQueued = this.options.maxQueuedPacketBytes ?? MAX_QUEUED_PACKET_BYTES;
    this.queuedBytes = 0;
    let framesDone = !outputs.frames;
    let packetsDone = !outputs.packets;
    let readError: unknown;
    const packetPipe = child.stdio[3] as NodeJS.ReadableStream | null;
    if (outputs.packets && packetPipe) {
      const demuxer = new TsDemuxer();
      this.demuxer = demuxer;
      packetPipe.on('data', (chunk: Buffer) => {
        feed();
        for (const packet of demuxer.push(chunk)) {
          queue.push({ kind: 'packet', packet, header: demuxer.header() ?? Buffer.alloc(0) });
          this.queuedBytes += packet.data.length;
        }
        // A sink that lags (a slow disk) holds up the pipe, and so ffmpeg, rather than growing this queue.
        if (this.queuedBytes > maxQueued) packetPipe.pause();
        wakeQueue();
      });
      packetPipe.on('end', () => {
        for (const packet of demuxer.flush()) {
          queue.push({ kind: 'packet', packet, header: demuxer.header() ?? Buffer.alloc(0) });
          this.queuedBytes += packet.data.length;
        }
        packetsDone = true;
        wakeQueue();
      });
      packetPipe.on('error', (error) => {
        readError = error;
        packetsDone = true;
        wakeQueue();
      });
    } else {
      packetPipe?.resume();
    }
    const readFrames = async () => {
      let chunks: Buffer[] = [];
      let buffered = 0;
      let index = 0;
      let lastPts = -1;
      for await (const chunk of child.stdout! as AsyncIterable<Buffer>) {
        feed();
        chunks.push(chunk);
        buffered += chunk.length;
        for (;;) {
          const info = await nextInfo(index);
          if (info === undefined) break;
          const size = info.width * info.height * 3;
          if (buffered < size) break;
          const all = chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, buffered);
          const rgb = Buffer.from(all.subarray(0, size)); // own copy: the rest of `all` stays buffered
          const rest = all.subarray(size);
          chunks = rest.length > 0 ? [rest] : [];
          buffered = rest.length;
          // A frame without a PTS follows its predecessor by one tick rather than breaking the sampler.
          const pts = info.pts ?? lastPts + 1;
          lastPts = pts;
          index++;
          queue.push({ kind: 'frame', frame: { width: info.width, height: info.height, rgb, pts90k: pts } });
          framesQueued++;
          wakeQueue();
          while (framesQueued > 1 && !this.stopped) await new Promise<void>((resolve) => (this.frameTaken = resolve));
        }
      }
    };
    if (outputs.frames) {
      readFrames()
        .catch((error: unknown) => {
          readError = error;
        })
        .finally(() => {
          framesDone = true;
          wakeQueue();
        });
    } else {
      child.stdout!.resume();
    }

    try {
      for (;;) {
        const item = queue.shift();
        if (item !== undefined) {
          if (item.kind === 'packet') {
            this.queuedBytes -= item.packet.data.length;
            if (this.queuedBytes <= maxQueued / 2 && packetPipe?.isPaused()) packetPipe.resume();
          }
          if (item.kind === 'frame') {
            framesQueued--;
            const taken = this.frameTaken;
            this.frameTaken = undefined;
            taken?.();
          }
          yield item;
          continue;
        }
        if (framesDone && packetsDone) break;
        await new Promise<void>((resolve) => (queueWaiter = resolve));
      }
      if (readError !== undefined) throw readError;
    } finally {
      watching = false;
      clearTimeout(watchdog);
      if (child.exitCode === null) child.kill('SIGTERM');
      const taken = this.frameTaken;
      this.frameTaken = undefined;
      taken?.();
    }
    const code = await exited;
    if (stalled) {
      throw new HxError(
        'HX_ERR_PIPELINE_SOURCE',
        `${this.spec.name}: no video for ${this.options.stallTimeoutMs ?? 15_000} ms`,
      );
    }
    const refusal = /DESCRIBE failed: (401|403|404)\b[^|]*/.exec(tail.join(' | '));
    if (code !== 0 && !this.stopped && refusal !== null) {
      throw new PermanentSourceError(
        `${this.spec.name}: the camera answered ${refusal[0].replace('DESCRIBE failed: ', '').trim()}: not reconnecting`,
        refusal[1] === '404' ? 'ProtocolError' : 'AuthorizationError',
        refusal[1]!,
      );
    }
    if (code !== 0 && !this.stopped) {
      throw new HxError(
        'HX_ERR_PIPELINE_SOURCE',
        `${this.spec.name}: ffmpeg exited with code ${code}: ${tail.slice(-3).join(' | ')}`,
      );
    }
  }
}

import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { copyFileSync, existsSync, mkdirSync, renameSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { findFfmpeg } from '../../src/pipeline/ffmpeg.js';

/**
 * Generated test videos with known motion: a flat grey 320x240 scene at 10 fps with light temporal noise (so that
 * "still" means what a camera means by it), a keyframe every 10 frames (1 s), and a white square that moves only
 * during the given [from, to) seconds. H.264 (libx264), as the vendor's cameras sent.
 */
export interface MotionVideo {
  path: string;
  seconds: number;
  moving: readonly (readonly [number, number])[];
}

export function runFfmpeg(args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(findFfmpeg(), ['-hide_banner', '-loglevel', 'error', ...args]);
    let stderr = '';
    child.stderr.setEncoding('utf8').on('data', (t: string) => (stderr += t));
    child.on('error', reject);
    child.on('close', (code) => (code === 0 ? resolve(stderr) : reject(new Error(`ffmpeg exited ${code}: ${stderr}`))));
  });
}

const CACHE = join(tmpdir(), 'hx-test-videos');

/**
 * Writes `out` with ffmpeg `args` (the output file last, added here), generating it once per machine: test files and
 * runs that ask for the same video share one encode. The key is the exact arguments plus the ffmpeg binary and the
 * given input files (size, mtime), so any change makes a new entry. Written under a temporary name and renamed, so
 * concurrent test processes never read a half-written file; each caller gets its own copy in its own folder.
 */
export async function cachedFfmpeg(args: string[], out: string, inputs: readonly string[] = []): Promise<string> {
  const ffmpeg = findFfmpeg();
  const stamp = (p: string) => {
    try {
      const st = statSync(p);
      return `${p}:${st.size}:${st.mtimeMs}`;
    } catch {
      return p; // a name on PATH
    }
  };
  const key = createHash('sha256')
    .update(JSON.stringify([stamp(ffmpeg), ...inputs.map(stamp), ...args]))
    .digest('hex')
    .slice(0, 32);
  const extension = out.slice(out.lastIndexOf('.'));
  const cached = join(CACHE, `${key}${extension}`);
  if (!existsSync(cached)) {
    mkdirSync(CACHE, { recursive: true });
    const partial = join(CACHE, `${key}.${process.pid}.${Math.random().toString(36).slice(2)}.partial${extension}`);
    try {
      await runFfmpeg([...args, '-y', partial]);
      renameSync(partial, cached);
    } finally {
      rmSync(partial, { force: true });
    }
  }
  copyFileSync(cached, out);
  return out;
}

export async function motionVideo(
  dir: string,
  seconds: number,
  moving: readonly (readonly [number, number])[],
  name = 'motion.mp4',
): Promise<MotionVideo> {
  const path = join(dir, name);
  // One overlay per moving segment: the square slides 30 px a second from the left while enabled (drawbox cannot
  // move: its `t` is the line thickness, not time).
  let graph = `color=c=0x606060:s=320x240:r=10:d=${seconds},noise=alls=3:allf=t[s0];color=c=white:s=40x40:r=10:d=${seconds}[sq];[sq]split=${Math.max(1, moving.length)}${moving.map((_, i) => `[q${i}]`).join('') || '[q0]'}`;
  moving.forEach(([from, to], i) => {
    graph += `;[s${i}][q${i}]overlay=x='20+30*(t-${from})':y=100:enable='between(t,${from},${to - 0.001})'[s${i + 1}]`;
  });
  if (moving.length === 0) graph += ';[q0]nullsink';
  graph += `;[s${moving.length}]format=yuv420p`;
  await cachedFfmpeg(
    [
      '-filter_complex',
      graph,
      '-c:v',
      'libx264',
      '-preset',
      'veryfast',
      '-g',
      '10',
      '-keyint_min',
      '10',
      '-sc_threshold',
      '0',
    ],
    path,
  );
  return { path, seconds, moving };
}

function ffprobe(args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn('ffprobe', ['-v', 'error', '-of', 'json', ...args]);
    let text = '';
    child.stdout.setEncoding('utf8').on('data', (t: string) => (text += t));
    child.on('error', reject);
    child.on('close', (code) => (code === 0 ? resolve(text) : reject(new Error(`ffprobe exited ${code}`))));
  });
}

/** ffprobe's view of a recording: duration (s), video codec, packets, and whether the first one is a keyframe. */
export async function probe(
  path: string,
): Promise<{ duration: number; codec: string; frames: number; firstKey: boolean }> {
  // One ffprobe (each costs a process start): the packet list gives both the count and the first video flags.
  const info = JSON.parse(
    await ffprobe([
      '-show_entries',
      'format=duration:stream=index,codec_name,codec_type:packet=stream_index,flags',
      path,
    ]),
  ) as {
    format: { duration: string };
    streams: { index: number; codec_name: string; codec_type: string }[];
    packets?: { stream_index: number; flags: string }[];
  };
  const packets = info.packets ?? [];
  const first = info.streams[0]!;
  const video = info.streams.find((s) => s.codec_type === 'video');
  return {
    duration: Number(info.format.duration),
    codec: first.codec_name,
    frames: packets.filter((p) => p.stream_index === first.index).length,
    firstKey: packets.find((p) => p.stream_index === video?.index)?.flags.startsWith('K') ?? false,
  };
}

/** The recording tests' video: 40 s, a square moving during [5, 7) and [25, 27) s. */
export function twoMovesVideo(dir: string): Promise<MotionVideo> {
  return motionVideo(dir, 40, [
    [5, 7],
    [25, 27],
  ]);
}

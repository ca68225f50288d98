/**
 * `npm run bench:grpc`: the cost of each transport to the same server and processor (colorIntensity, a mean over
 * the pixels, so that transport and decoding are what is measured), in one run: HTTP POST, gRPC with the frame
 * embedded, gRPC through shared memory. Frames: 416x416 BGR24 (raw) and 1080p JPEG. Each cell keeps `--window`
 * frames in flight (HTTP: that many keep-alive connections; gRPC: that many unacked samples on one stream) for
 * `--duration` seconds after `--warmup` seconds, and reports frames/s and CPU-ms per frame of the server (utime +
 * stime of all its threads, /proc) and of this client (process.cpuUsage: the HTTP client, grpc-js, the copy into
 * shared memory), since moving a frame costs on both sides.
 *
 *   node dist/bench/grpc-transports.js [--duration 10] [--warmup 3] [--window 4] [--only 416-bgr24,1080p-jpeg]
 *
 * The gRPC client is the pipeline runner's (src/pipeline/grpc-stream.ts, shared-memory-ring.ts). Markdown to stdout.
 */
import { spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { credentials, Metadata } from '@grpc/grpc-js';
import sharp from 'sharp';
import { Pool } from 'undici';
import { ExtensionStream, extensionClient } from '../src/pipeline/grpc-stream.js';
import { SharedMemoryRing } from '../src/pipeline/shared-memory-ring.js';
import type { StreamMessage } from '../src/schema/grpc-inference.js';
import { procStat, serverArgs, waitUp } from './proc-stats.js';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');

const { values: opts } = parseArgs({
  options: {
    duration: { type: 'string', default: '10' },
    warmup: { type: 'string', default: '3' },
    window: { type: 'string', default: '4' },
    only: { type: 'string' },
    port: { type: 'string', default: '5311' },
    'grpc-port': { type: 'string', default: '5312' },
  },
});
const duration = Number(opts.duration) * 1000;
const warmup = Number(opts.warmup) * 1000;
const window = Number(opts.window);

type SampleFormat = NonNullable<
  NonNullable<NonNullable<StreamMessage['mediaStreamDescriptor']>['mediaDescriptor']>['videoFrameSampleFormat']
>;

interface Frame {
  id: string;
  label: string;
  body: Buffer;
  contentType: string;
  format: SampleFormat;
}

/** 416x416 BGR24 from the committed OpenCV fixture; the 1080p JPEG of ../shared when present, else made from it. */
async function frames(): Promise<Frame[]> {
  const fixture = join(ROOT, 'test/fixtures/frames/street100_416.jpg');
  const rgb = await sharp(fixture).removeAlpha().raw().toBuffer();
  const bgr = Buffer.alloc(rgb.length);
  for (let i = 0; i < rgb.length; i += 3) {
    bgr[i] = rgb[i + 2]!;
    bgr[i + 1] = rgb[i + 1]!;
    bgr[i + 2] = rgb[i]!;
  }
  const shared = resolve(ROOT, '../shared/images/frames/light_1080p.jpg');
  const hd = existsSync(shared)
    ? readFileSync(shared)
    : await sharp(fixture).resize(1920, 1080, { fit: 'fill' }).jpeg({ quality: 90 }).toBuffer();
  const all: Frame[] = [
    {
      id: '416-bgr24',
      label: '416x416 BGR24',
      body: bgr,
      contentType: 'image/x-raw; width=416; height=416; format=bgr24',
      format: { encoding: 'RAW', pixelFormat: 'BGR24', dimensions: { width: 416, height: 416 }, strideBytes: 416 * 3 },
    },
    {
      id: '1080p-jpeg',
      label: `1080p JPEG (${existsSync(shared) ? 'light_1080p.jpg' : 'street100 scaled'}, ${Math.round(hd.length / 1024)} KiB)`,
      body: hd,
      contentType: 'image/jpeg',
      format: { encoding: 'JPG', dimensions: { width: 1920, height: 1080 } },
    },
  ];
  const only = opts.only?.split(',');
  return only === undefined ? all : all.filter((f) => only.includes(f.id));
}

type Transport = 'http' | 'grpc-embedded' | 'grpc-shm';
const TRANSPORTS: Transport[] = ['http', 'grpc-embedded', 'grpc-shm'];

/** Sends frames with `window` in flight until `until`, returning how many were answered. */
type Sender = { send(): Promise<void>; close(): Promise<void> };

async function sender(transport: Transport, frame: Frame, httpPort: number, grpcPort: number): Promise<Sender> {
  if (transport === 'http') {
    const pool = new Pool(`http://127.0.0.1:${httpPort}`, { connections: window });
    return {
      send: async () => {
        const answer = await pool.request({
          path: '/score',
          method: 'POST',
          body: frame.body,
          headers: { 'content-type': frame.contentType },
        });
        const text = await answer.body.text();
        if (answer.statusCode !== 200) throw new Error(`HTTP ${answer.statusCode}: ${text}`);
      },
      close: () => pool.close(),
    };
  }
  const client = extensionClient(`127.0.0.1:${grpcPort}`, credentials.createInsecure());
  const ring = transport === 'grpc-shm' ? new SharedMemoryRing('httpextension-bench', 64 * 1024 * 1024) : undefined;
  const stream = new ExtensionStream(
    client,
    new Metadata(),
    {
      extensionConfiguration: '',
      mediaDescriptor: { timescale: 90_000, videoFrameSampleFormat: frame.format },
      ...(ring
        ? { sharedMemoryBufferTransferProperties: { handleName: ring.handleName, lengthBytes: ring.sizeBytes } }
        : {}),
    },
    30_000,
  );
  let timestamp = 0;
  return {
    send: async () => {
      timestamp += 3000;
      let offset: number | undefined;
      if (ring) {
        offset = ring.allocate(frame.body.length);
        if (offset === undefined) throw new Error('shared memory full');
        // As the runner does: each frame is written into the ring (a copy), then referenced.
        ring.write(offset, frame.body);
      }
      try {
        const inferences = await stream.sample(
          timestamp,
          offset === undefined
            ? { contentBytes: { bytes: frame.body } }
            : { contentReference: { addressOffset: offset, lengthBytes: frame.body.length } },
        );
        if (inferences.length === 0) throw new Error('no inferences');
      } finally {
        if (offset !== undefined) ring?.release(offset);
      }
    },
    close: async () => {
      await stream.end();
      client.close();
      ring?.close();
    },
  };
}

interface Cell {
  frame: string;
  transport: Transport;
  frames: number;
  fps: number;
  serverCpuMs: number;
  clientCpuMs: number;
}

async function measure(
  s: Sender,
  serverPid: number,
): Promise<{ frames: number; seconds: number; server: number; client: number }> {
  let stopAt = Date.now() + warmup;
  let counting = false;
  let count = 0;
  const loop = async () => {
    while (Date.now() < stopAt) {
      await s.send();
      if (counting) count++;
    }
  };
  // Warm-up: the same loops, not counted; then the measured period starts from a steady window.
  await Promise.all(Array.from({ length: window }, loop));
  const server0 = procStat(serverPid).cpuMs;
  const client0 = process.cpuUsage();
  const t0 = performance.now();
  stopAt = Date.now() + duration;
  counting = true;
  await Promise.all(Array.from({ length: window }, loop));
  const seconds = (performance.now() - t0) / 1000;
  const c = process.cpuUsage(client0);
  return { frames: count, seconds, server: procStat(serverPid).cpuMs - server0, client: (c.user + c.system) / 1000 };
}

async function main(): Promise<void> {
  const httpPort = Number(opts.port);
  const grpcPort = Number(opts['grpc-port']);
  const args = serverArgs(ROOT, httpPort, '--route', '/score=colorIntensity', '--grpc-port', String(grpcPort));
  const child = spawn(process.execPath, args, { stdio: ['ignore', 'ignore', 'inherit'] });
  const cells: Cell[] = [];
  try {
    await waitUp(`http://127.0.0.1:${httpPort}/health/ready`, child);
    for (const frame of await frames()) {
      for (const transport of TRANSPORTS) {
        const s = await sender(transport, frame, httpPort, grpcPort);
        try {
          const m = await measure(s, child.pid!);
          cells.push({
            frame: frame.label,
            transport,
            frames: m.frames,
            fps: m.frames / m.seconds,
            serverCpuMs: m.server / m.frames,
            clientCpuMs: m.client / m.frames,
          });
          process.stderr.write(`${frame.id} ${transport}: ${(m.frames / m.seconds).toFixed(0)} frames/s\n`);
        } finally {
          await s.close();
        }
      }
    }
  } finally {
    child.kill('SIGTERM');
  }
  const cpu = cpus()[0]?.model ?? 'unknown CPU';
  console.log(
    `Node ${process.version}, ${cpus().length} x ${cpu}; window ${window}, ${opts.warmup} s warm-up, ${opts.duration} s measured per cell\n`,
  );
  console.log(
    '| frame | transport | frames/s | server CPU-ms/frame | client CPU-ms/frame | total CPU-ms/frame | frames/s vs HTTP |',
  );
  console.log('|---|---|---:|---:|---:|---:|---:|');
  for (const c of cells) {
    const http = cells.find((h) => h.frame === c.frame && h.transport === 'http')!;
    console.log(
      `| ${c.frame} | ${c.transport} | ${c.fps.toFixed(0)} | ${c.serverCpuMs.toFixed(3)} | ${c.clientCpuMs.toFixed(3)} | ${(c.serverCpuMs + c.clientCpuMs).toFixed(3)} | ${(c.fps / http.fps).toFixed(2)}x |`,
    );
  }
}

await main();

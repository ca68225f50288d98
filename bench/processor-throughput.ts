/**
 * Per-processor throughput: the bare processor against the whole server, with the same number of threads.
 *
 * - bare, N threads: N worker threads, each with its own processor instance, calling process() in a loop on a frame
 *   decoded once (bench/bare-worker.ts). Pre-processing inside process() (letterbox, tensor layout, NMS) counts as
 *   model time, so the comparison is strict on the server.
 * - server, N workers: the real server (fastify, body read, header probe, decode, queue, worker threads, the same
 *   processor, JSON) with 2 x N keep-alive clients posting the frame back to back from this process.
 *
 * Both sides are started once and kept warm; then short windows alternate (bare, server, server, bare, ...) for
 * several rounds, so that whatever else slows the machine down hits both alike. The ratio is taken per round between
 * adjacent windows and the median of those ratios is reported with their range.
 *
 * `objectDetection@tfjs` is objectDetection on its old runtime (TensorFlow.js WASM, bench/tfjs-object-detection.ts),
 * measured in the same run as the ONNX Runtime one.
 *
 *   npm run bench:processors [-- --seconds 3 --rounds 7 --processors objectDetection,ocr --workers 1,2]
 */

import { readFileSync } from 'node:fs';
import { availableParallelism, loadavg } from 'node:os';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { Worker } from 'node:worker_threads';
import { Agent, request } from 'undici';
import { startServer } from '../src/cli/serve.js';
import { loadConfig } from '../src/config/load.js';
import type { BareCommand, BareReply, BareWorkerData } from './bare-worker.js';

const { values } = parseArgs({
  options: {
    seconds: { type: 'string', default: '3' },
    rounds: { type: 'string', default: '7' },
    processors: { type: 'string', default: 'objectDetection@tfjs,objectDetection,ocr,motion,colorIntensity' },
    workers: { type: 'string', default: [...new Set([1, availableParallelism()])].join(',') },
  },
});
const windowMs = Number(values.seconds) * 1000;
const rounds = Number(values.rounds);
const workerCounts = values.workers.split(',').map(Number);

const FRAMES: Record<string, string> = { ocr: 'signs_416.jpg' };

/** Benchmark-only processors, by the name the table shows. */
const ALIASES: Record<string, string> = {
  'objectDetection@tfjs': new URL('./tfjs-object-detection.js', import.meta.url).href,
};
const moduleOf = (processor: string) => ALIASES[processor] ?? processor;

function framePath(processor: string): string {
  const name = FRAMES[processor] ?? 'street100_416.jpg';
  return fileURLToPath(new URL(`../../test/fixtures/frames/${name}`, import.meta.url));
}

interface Window {
  fps: number;
  /** Frames per CPU-second of this whole process (every thread; for the server, its clients too). */
  perCpuSecond: number;
  p50Ms?: number;
  errors?: number;
}

interface Side {
  run(ms: number): Promise<Window>;
  close(): Promise<void>;
}

/** N bare threads, started once. */
async function bareSide(processor: string, threads: number): Promise<Side> {
  const workers = await Promise.all(
    Array.from({ length: threads }, async (_, workerId) => {
      const data: BareWorkerData = { processor: moduleOf(processor), framePath: framePath(processor), workerId };
      const worker = new Worker(new URL('./bare-worker.js', import.meta.url), { workerData: data });
      await nextReply(worker, 'ready');
      return worker;
    }),
  );
  return {
    async run(ms) {
      const cpu = process.cpuUsage();
      const start = performance.now();
      const replies = await Promise.all(
        workers.map((worker) => {
          const done = nextReply(worker, 'done');
          worker.postMessage({ type: 'run', ms } satisfies BareCommand);
          return done;
        }),
      );
      const frames = replies.reduce((n, r) => n + (r.type === 'done' ? r.frames : 0), 0);
      return rate(frames, start, cpu);
    },
    async close() {
      await Promise.all(
        workers.map((worker) => {
          const exited = new Promise((resolve) => worker.once('exit', resolve));
          worker.postMessage({ type: 'close' } satisfies BareCommand);
          return exited;
        }),
      );
    },
  };
}

function nextReply(worker: Worker, type: BareReply['type']): Promise<BareReply> {
  return new Promise((resolve, reject) => {
    const onMessage = (reply: BareReply) => {
      if (reply.type !== type) return;
      worker.off('message', onMessage);
      worker.off('error', reject);
      resolve(reply);
    };
    worker.on('message', onMessage);
    worker.once('error', reject);
  });
}

/** The whole server with N workers, started once; each window posts from 2 x N keep-alive clients. */
async function servedSide(processor: string, workers: number): Promise<Side> {
  const config = loadConfig({
    env: {},
    flags: {
      host: '127.0.0.1',
      port: 0,
      logLevel: 'silent',
      workers,
      requestTimeoutMs: 60_000,
      routes: [{ path: '/bench', processor: moduleOf(processor) }],
    },
  });
  const server = await startServer(config, { prettyLogs: false });
  await server.ready;
  const clients = workers * 2;
  const agent = new Agent({ connections: clients });
  const body = readFileSync(framePath(processor));
  const post = async (client: number): Promise<{ ms: number; ok: boolean }> => {
    const t = performance.now();
    const response = await request(`${server.url}/bench?stream=c${client}`, {
      method: 'POST',
      body,
      dispatcher: agent,
    });
    await response.body.dump();
    return { ms: performance.now() - t, ok: response.statusCode === 200 || response.statusCode === 204 };
  };
  await Promise.all(Array.from({ length: clients }, (_, c) => post(c)));
  return {
    async run(ms) {
      const latencies: number[] = [];
      let errors = 0;
      const cpu = process.cpuUsage();
      const start = performance.now();
      const end = start + ms;
      await Promise.all(
        Array.from({ length: clients }, async (_, c) => {
          while (performance.now() < end) {
            const result = await post(c);
            latencies.push(result.ms);
            if (!result.ok) errors++;
          }
        }),
      );
      return { ...rate(latencies.length, start, cpu), p50Ms: median(latencies), errors };
    },
    async close() {
      await agent.close();
      await server.close();
    },
  };
}

function rate(frames: number, start: number, cpu: NodeJS.CpuUsage): Window {
  const wallSeconds = (performance.now() - start) / 1000;
  const used = process.cpuUsage(cpu);
  return { fps: frames / wallSeconds, perCpuSecond: frames / ((used.user + used.system) / 1e6) };
}

function median(list: number[]): number {
  const sorted = [...list].sort((a, b) => a - b);
  if (sorted.length === 0) return 0;
  const mid = sorted.length / 2;
  return Number.isInteger(mid) ? (sorted[mid - 1]! + sorted[mid]!) / 2 : sorted[Math.floor(mid)]!;
}

function load(): string {
  return loadavg()
    .map((l) => l.toFixed(1))
    .join(' ');
}

const fmt = (n: number) => (n >= 100 ? n.toFixed(0) : n.toFixed(2));
const pct = (n: number) => `${(n * 100).toFixed(0)}%`;

console.log(
  `# processor throughput: ${rounds} rounds of ${windowMs / 1000} s windows, bare and served alternating; ` +
    `${availableParallelism()} cores, node ${process.version}, load average ${load()}`,
);
const rows: string[] = [];
for (const processor of values.processors.split(',')) {
  const singleServed: number[] = [];
  for (const threads of workerCounts) {
    const bare = await bareSide(processor, threads);
    const served = await servedSide(processor, threads);
    const bareRuns: Window[] = [];
    const servedRuns: Window[] = [];
    const ratios: number[] = [];
    for (let round = 0; round < rounds; round++) {
      // Alternate which side goes first, so a trend on the machine does not favour one of them.
      const [b, s] =
        round % 2 === 0
          ? [await bare.run(windowMs), await served.run(windowMs)]
          : await (async () => {
              const s = await served.run(windowMs);
              return [await bare.run(windowMs), s] as const;
            })();
      bareRuns.push(b);
      servedRuns.push(s);
      ratios.push(s.fps / b.fps);
    }
    await served.close();
    await bare.close();
    const bareFps = median(bareRuns.map((r) => r.fps));
    const servedFps = median(servedRuns.map((r) => r.fps));
    if (threads === workerCounts[0]) singleServed.push(servedFps);
    const scaling = threads === workerCounts[0] ? '' : `${(servedFps / singleServed[0]!).toFixed(2)}x`;
    const errors = servedRuns.reduce((n, r) => n + (r.errors ?? 0), 0);
    const row = [
      processor,
      String(threads),
      fmt(bareFps),
      fmt(servedFps),
      `**${pct(median(ratios))}** (${pct(Math.min(...ratios))}-${pct(Math.max(...ratios))})`,
      `${pct(median(servedRuns.map((r) => r.perCpuSecond)) / median(bareRuns.map((r) => r.perCpuSecond)))}`,
      median(servedRuns.map((r) => r.p50Ms ?? 0)).toFixed(1),
      scaling,
      String(errors),
    ];
    rows.push(`| ${row.join(' | ')} |`);
    console.log(`RESULT ${rows.at(-1)}`);
    const list = (runs: Window[]) => runs.map((r) => fmt(r.fps)).join(' ');
    console.log(`  fps per round: bare ${list(bareRuns)}; server ${list(servedRuns)}`);
  }
}
console.log(
  '\n| processor | threads = workers | bare fps | server fps | server ÷ bare, median of rounds (range) | ' +
    'per CPU-s ÷ bare | server p50 ms | scaling vs 1 | errors |',
);
console.log('|---|---:|---:|---:|---:|---:|---:|---:|---:|');
for (const row of rows) console.log(row);
console.log(`load average at the end: ${load()}`);

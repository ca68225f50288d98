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
 * `--compare OLD,NEW` serves two processors instead (two servers, N workers each, started once and kept warm) and
 * alternates their windows the same way, reporting NEW ÷ OLD per round: the way to compare two implementations on a
 * machine whose speed drifts.
 *
 * With `--annotate` the served route answers the annotated JPEG (as /annotate does).
 *
 *   npm run bench:processors [-- --seconds 3 --rounds 7 --processors objectDetection,ocr --workers 1,2 --annotate]
 */

import { readFileSync } from 'node:fs';
import { availableParallelism, loadavg } from 'node:os';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { Worker } from 'node:worker_threads';
import { Agent, request } from 'undici';
import type { BareCommand, BareReply, BareWorkerData } from './bare-worker.js';
import { startQuietServer } from './quiet-server.js';

const { values } = parseArgs({
  options: {
    seconds: { type: 'string', default: '3' },
    rounds: { type: 'string', default: '7' },
    processors: { type: 'string', default: 'objectDetection@tfjs,objectDetection,ocr,motion,colorIntensity' },
    workers: { type: 'string', default: [...new Set([1, availableParallelism()])].join(',') },
    /** Served side on an annotating route (the answer is the frame with the boxes drawn, as /annotate). */
    annotate: { type: 'boolean', default: false },
    /** `OLD,NEW`: both served side by side instead, windows alternating, NEW ÷ OLD per round. */
    compare: { type: 'string' },
    /**
     * The served side's `execution` (default: the server's own, `auto`). The benchmark's clients share the server's
     * event loop, so a processor that `auto` runs on the event loop competes with them: `workers` compares like with
     * like against the bare threads.
     */
    execution: { type: 'string' },
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
  const server = await startQuietServer(
    workers,
    [{ path: '/bench', processor: moduleOf(processor), annotate: values.annotate }],
    { requestTimeoutMs: 60_000, ...(values.execution !== undefined ? { execution: values.execution } : {}) },
  );
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
  `# processor throughput${values.annotate ? ' (served route annotates)' : ''}: ${rounds} rounds of ${windowMs / 1000} s windows, ` +
    `${values.compare === undefined ? 'bare and served' : values.compare} alternating; ` +
    `${availableParallelism()} cores, node ${process.version}, load average ${load()}`,
);

/** Runs two sides in alternating windows (which goes first alternates too); the ratio is b ÷ a per round. */
async function alternate(a: Side, b: Side): Promise<{ a: Window[]; b: Window[]; ratios: number[] }> {
  const runs = { a: [] as Window[], b: [] as Window[], ratios: [] as number[] };
  for (let round = 0; round < rounds; round++) {
    // Alternate which side goes first, so a trend on the machine does not favour one of them.
    let wa: Window;
    let wb: Window;
    if (round % 2 === 0) {
      wa = await a.run(windowMs);
      wb = await b.run(windowMs);
    } else {
      wb = await b.run(windowMs);
      wa = await a.run(windowMs);
    }
    runs.a.push(wa);
    runs.b.push(wb);
    runs.ratios.push(wb.fps / wa.fps);
  }
  return runs;
}

const list = (runs: Window[]) => runs.map((r) => fmt(r.fps)).join(' ');
const ratioCell = (ratios: number[], asTimes: boolean) => {
  const f = (r: number) => (asTimes ? `${r.toFixed(2)}x` : pct(r));
  return `**${f(median(ratios))}** (${f(Math.min(...ratios))}-${f(Math.max(...ratios))})`;
};

if (values.compare !== undefined) {
  const [oldName, newName] = values.compare.split(',') as [string, string];
  const rows: string[] = [];
  for (const threads of workerCounts) {
    const oldSide = await servedSide(oldName, threads);
    const newSide = await servedSide(newName, threads);
    const runs = await alternate(oldSide, newSide);
    await newSide.close();
    await oldSide.close();
    const p50 = (r: Window[]) => median(r.map((w) => w.p50Ms ?? 0)).toFixed(1);
    const errors = [...runs.a, ...runs.b].reduce((n, r) => n + (r.errors ?? 0), 0);
    const row = [
      String(threads),
      fmt(median(runs.a.map((r) => r.fps))),
      fmt(median(runs.b.map((r) => r.fps))),
      ratioCell(runs.ratios, true),
      `${(median(runs.b.map((r) => r.perCpuSecond)) / median(runs.a.map((r) => r.perCpuSecond))).toFixed(2)}x`,
      p50(runs.a),
      p50(runs.b),
      String(errors),
    ];
    rows.push(`| ${row.join(' | ')} |`);
    console.log(`RESULT ${rows.at(-1)}`);
    console.log(`  fps per round: ${oldName} ${list(runs.a)}; ${newName} ${list(runs.b)}`);
  }
  console.log(
    `\n| workers | ${oldName} fps | ${newName} fps | ${newName} ÷ ${oldName}, median of rounds (range) | ` +
      `frames per CPU-s, ÷ | ${oldName} p50 ms | ${newName} p50 ms | errors |`,
  );
  console.log('|---:|---:|---:|---:|---:|---:|---:|---:|');
  for (const row of rows) console.log(row);
} else {
  const rows: string[] = [];
  for (const processor of values.processors.split(',')) {
    const singleServed: number[] = [];
    for (const threads of workerCounts) {
      const bare = await bareSide(processor, threads);
      const served = await servedSide(processor, threads);
      const { a: bareRuns, b: servedRuns, ratios } = await alternate(bare, served);
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
        ratioCell(ratios, false),
        `${pct(median(servedRuns.map((r) => r.perCpuSecond)) / median(bareRuns.map((r) => r.perCpuSecond)))}`,
        median(servedRuns.map((r) => r.p50Ms ?? 0)).toFixed(1),
        scaling,
        String(errors),
      ];
      rows.push(`| ${row.join(' | ')} |`);
      console.log(`RESULT ${rows.at(-1)}`);
      console.log(`  fps per round: bare ${list(bareRuns)}; server ${list(servedRuns)}`);
    }
  }
  console.log(
    '\n| processor | threads = workers | bare fps | server fps | server ÷ bare, median of rounds (range) | ' +
      'per CPU-s ÷ bare | server p50 ms | scaling vs 1 | errors |',
  );
  console.log('|---|---:|---:|---:|---:|---:|---:|---:|---:|');
  for (const row of rows) console.log(row);
}
console.log(`load average at the end: ${load()}`);

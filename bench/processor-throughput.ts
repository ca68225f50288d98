/**
 * Per-processor throughput: the bare processor (create() + process() on an already decoded frame, in this thread,
 * one thread) against the whole server (HTTP, decode, queue, worker, the same processor, one thread per worker) with
 * 1..N workers. Bare and served runs alternate in rounds so that load from elsewhere on the machine hits both alike;
 * the medians are reported.
 *
 *   npm run bench:processors [-- --seconds 5 --rounds 3 --processors objectDetection,ocr --workers 1,2]
 */
import { readFileSync } from 'node:fs';
import { availableParallelism, loadavg } from 'node:os';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { Agent, request } from 'undici';
import { startServer } from '../src/cli/serve.js';
import { loadConfig } from '../src/config/load.js';
import { decodeFrame } from '../src/inference/decode.js';
import { probeEncoded } from '../src/inference/probe.js';
import type { ProcessRequest } from '../src/processors/processor.js';
import { loadProcessor, resolveProcessorUrl } from '../src/processors/registry.js';

const { values } = parseArgs({
  options: {
    seconds: { type: 'string', default: '5' },
    rounds: { type: 'string', default: '3' },
    processors: { type: 'string', default: 'colorIntensity,objectDetection,ocr,motion' },
    workers: { type: 'string', default: [...new Set([1, availableParallelism()])].join(',') },
  },
});
const seconds = Number(values.seconds);
const rounds = Number(values.rounds);
const workerCounts = values.workers.split(',').map(Number);

const FRAMES: Record<string, string> = { ocr: 'signs_416.jpg' };

function frameFile(processor: string): Buffer {
  const name = FRAMES[processor] ?? 'street100_416.jpg';
  return readFileSync(new URL(`../../test/fixtures/frames/${name}`, import.meta.url));
}

/** Wall-clock frames per second, and frames per CPU-second of this whole process (every thread, the client too). */
interface Rate {
  fps: number;
  perCpuSecond: number;
}

interface Served extends Rate {
  p50Ms: number;
  errors: number;
}

/**
 * The processor alone: created once, the frame decoded once, then process() in a loop. Pre-processing inside
 * process() (letterbox, tensor layout) counts as model time here, which makes the comparison strict on the server.
 */
async function bareRunner(processor: string): Promise<{ run(): Promise<Rate>; dispose(): Promise<void> }> {
  const definition = await loadProcessor(resolveProcessorUrl(processor));
  const options = definition.parseOptions({});
  const instance = await definition.create(options, { workerId: 0 });
  const body = frameFile(processor);
  const needs = definition.frameRequirements?.(options) ?? {};
  const frame = await decodeFrame(new Uint8Array(body), probeEncoded(body), needs);
  const req: ProcessRequest = { requestId: 'bench', route: '/bench', query: {}, stream: 'bench' };
  await instance.process(frame, req);
  return {
    async run() {
      let frames = 0;
      const cpu = process.cpuUsage();
      const start = performance.now();
      const end = start + seconds * 1000;
      while (performance.now() < end) {
        await instance.process(frame, req);
        frames++;
      }
      return rate(frames, start, cpu);
    },
    async dispose() {
      await instance.dispose?.();
    },
  };
}

/** The whole server: `2 x workers` clients post the frame back to back over keep-alive connections. */
async function served(processor: string, workers: number): Promise<Served> {
  const config = loadConfig({
    env: {},
    flags: {
      host: '127.0.0.1',
      port: 0,
      logLevel: 'silent',
      workers,
      requestTimeoutMs: 60_000,
      routes: [{ path: '/bench', processor }],
    },
  });
  const server = await startServer(config, { prettyLogs: false });
  await server.ready;
  const clients = workers * 2;
  const agent = new Agent({ connections: clients });
  const body = frameFile(processor);
  const latencies: number[] = [];
  let errors = 0;
  const post = async (client: number) => {
    const t = performance.now();
    const url = `${server.url}/bench?stream=c${client}`;
    const response = await request(url, { method: 'POST', body, dispatcher: agent });
    await response.body.dump();
    if (response.statusCode >= 300 && response.statusCode !== 204) errors++;
    return performance.now() - t;
  };
  await Promise.all(Array.from({ length: clients }, (_, c) => post(c)));
  const cpu = process.cpuUsage();
  const start = performance.now();
  const end = start + seconds * 1000;
  await Promise.all(
    Array.from({ length: clients }, async (_, c) => {
      while (performance.now() < end) latencies.push(await post(c));
    }),
  );
  const measured = rate(latencies.length, start, cpu);
  await agent.close();
  await server.close();
  return { ...measured, p50Ms: median(latencies), errors };
}

/**
 * CPU time is what a frame costs whatever else runs on the machine; wall-clock rates are only comparable on an
 * otherwise idle machine.
 */
function rate(frames: number, start: number, cpu: NodeJS.CpuUsage): Rate {
  const wallSeconds = (performance.now() - start) / 1000;
  const used = process.cpuUsage(cpu);
  const cpuSeconds = (used.user + used.system) / 1e6;
  return { fps: frames / wallSeconds, perCpuSecond: frames / cpuSeconds };
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] ?? 0;
}

function load(): string {
  return loadavg()
    .map((l) => l.toFixed(1))
    .join(' ');
}

console.log(
  `# processor throughput: median of ${rounds} rounds x ${seconds} s, bare and served interleaved; ` +
    `${availableParallelism()} cores, node ${process.version}, load average ${load()}`,
);
const rows: string[] = [];
for (const processor of values.processors.split(',')) {
  const runner = await bareRunner(processor);
  const bareRuns: Rate[] = [];
  const servedRuns = new Map<number, Served[]>(workerCounts.map((w) => [w, []]));
  for (let round = 0; round < rounds; round++) {
    bareRuns.push(await runner.run());
    for (const workers of workerCounts) servedRuns.get(workers)!.push(await served(processor, workers));
  }
  await runner.dispose();
  const bareFps = median(bareRuns.map((r) => r.fps));
  const bareCpu = median(bareRuns.map((r) => r.perCpuSecond));
  const cells = [processor, `${bareFps.toFixed(2)} / ${bareCpu.toFixed(2)}`];
  for (const workers of workerCounts) {
    const list = servedRuns.get(workers)!;
    const fps = median(list.map((r) => r.fps));
    const perCpu = median(list.map((r) => r.perCpuSecond));
    const p50 = median(list.map((r) => r.p50Ms));
    const errors = list.reduce((n, r) => n + r.errors, 0);
    const ratio = ` (${((perCpu / bareCpu) * 100).toFixed(0)}% of bare per CPU-s)`;
    cells.push(
      `${fps.toFixed(2)} / ${perCpu.toFixed(2)}${ratio}, p50 ${p50.toFixed(0)} ms${errors > 0 ? `, ${errors} errors` : ''}`,
    );
  }
  const row = `| ${cells.join(' | ')} |`;
  rows.push(row);
  const runs = (list: Rate[]) => list.map((r) => `${r.fps.toFixed(2)}/${r.perCpuSecond.toFixed(2)}`).join(' ');
  console.log(`RESULT ${row}`);
  console.log(
    `  runs (fps/per CPU-s): bare ${runs(bareRuns)}; ${workerCounts.map((w) => `${w}w ${runs(servedRuns.get(w)!)}`).join('; ')}`,
  );
}
const headers = workerCounts.map((w) => `server, ${w} worker${w > 1 ? 's' : ''}`);
console.log(`\nframes per second (wall clock) / frames per CPU-second`);
console.log(`\n| processor | bare, 1 thread | ${headers.join(' | ')} |`);
console.log(`|---|---:|${workerCounts.map(() => '---:').join('|')}|`);
for (const row of rows) console.log(row);
console.log(`load average at the end: ${load()}`);

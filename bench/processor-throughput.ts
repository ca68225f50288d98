/**
 * Per-processor throughput: the bare processor (create() + process() on an already decoded frame, in this thread,
 * one thread) against the whole server (HTTP, decode, queue, worker, same processor, one intra-op thread per worker)
 * with 1..N workers, measured in the same run on the same machine.
 *
 *   npm run bench:processors [-- --seconds 10 --processors objectDetection,ocr --workers 1,2]
 */
import { readFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
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
    seconds: { type: 'string', default: '10' },
    processors: { type: 'string', default: 'colorIntensity,objectDetection,ocr,motion' },
    workers: { type: 'string', default: [...new Set([1, availableParallelism()])].join(',') },
  },
});
const seconds = Number(values.seconds);
const workerCounts = values.workers.split(',').map(Number);

const FRAMES: Record<string, string> = {
  colorIntensity: 'street100_416.jpg',
  objectDetection: 'street100_416.jpg',
  motion: 'street100_416.jpg',
  ocr: 'signs_416.jpg',
};

function frameFile(processor: string): Buffer {
  return readFileSync(
    new URL(`../../test/fixtures/frames/${FRAMES[processor] ?? 'street100_416.jpg'}`, import.meta.url),
  );
}

/** Frames per second of the processor alone: decoded once, processed in a loop for `seconds`. */
async function bare(processor: string): Promise<number> {
  const definition = await loadProcessor(resolveProcessorUrl(processor));
  const options = definition.parseOptions({});
  const instance = await definition.create(options, { workerId: 0 });
  const body = frameFile(processor);
  const frame = await decodeFrame(
    new Uint8Array(body),
    probeEncoded(body),
    definition.frameRequirements?.(options) ?? {},
  );
  const req: ProcessRequest = { requestId: 'bench', route: '/bench', query: {}, stream: 'bench' };
  await instance.process(frame, req);
  let frames = 0;
  const start = performance.now();
  const end = start + seconds * 1000;
  while (performance.now() < end) {
    await instance.process(frame, req);
    frames++;
  }
  const fps = frames / ((performance.now() - start) / 1000);
  await instance.dispose?.();
  return fps;
}

/** Frames per second through the whole server, `2 x workers` clients posting the frame back to back. */
async function served(processor: string, workers: number): Promise<{ fps: number; p50Ms: number; errors: number }> {
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
  const agent = new Agent({ connections: workers * 2 });
  const body = frameFile(processor);
  const latencies: number[] = [];
  let errors = 0;
  const post = async (client: number) => {
    const t = performance.now();
    const response = await request(`${server.url}/bench?stream=c${client}`, {
      method: 'POST',
      body,
      dispatcher: agent,
    });
    await response.body.dump();
    if (response.statusCode >= 300 && response.statusCode !== 204) errors++;
    return performance.now() - t;
  };
  // Warm the connections before timing.
  await Promise.all(Array.from({ length: workers * 2 }, (_, c) => post(c)));
  const start = performance.now();
  const end = start + seconds * 1000;
  await Promise.all(
    Array.from({ length: workers * 2 }, async (_, c) => {
      while (performance.now() < end) latencies.push(await post(c));
    }),
  );
  const elapsed = (performance.now() - start) / 1000;
  await agent.close();
  await server.close();
  latencies.sort((a, b) => a - b);
  return { fps: latencies.length / elapsed, p50Ms: latencies[Math.floor(latencies.length / 2)] ?? 0, errors };
}

const rows: string[] = [];
console.log(
  `# processor throughput, ${seconds} s per measurement, ${availableParallelism()} cores, node ${process.version}`,
);
for (const processor of values.processors.split(',')) {
  const bareFps = await bare(processor);
  const cells = [processor, bareFps.toFixed(2)];
  for (const workers of workerCounts) {
    const result = await served(processor, workers);
    const ratio = workers === 1 ? ` (${((result.fps / bareFps) * 100).toFixed(0)}% of bare)` : '';
    cells.push(
      `${result.fps.toFixed(2)}${ratio}, p50 ${result.p50Ms.toFixed(0)} ms${result.errors ? `, ${result.errors} errors` : ''}`,
    );
  }
  const row = `| ${cells.join(' | ')} |`;
  rows.push(row);
  console.log(`RESULT ${row}`);
}
console.log(
  `\n| processor | bare, 1 thread (fps) | ${workerCounts.map((w) => `server, ${w} worker${w > 1 ? 's' : ''} (fps)`).join(' | ')} |`,
);
console.log(`|---|---:|${workerCounts.map(() => '---:').join('|')}|`);
for (const row of rows) console.log(row);

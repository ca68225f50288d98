/**
 * `npm run bench:overload`: goodput under overload. Starts the server (as `npm start` does) with /score and
 * /detect, drives each route with closed-loop clients (autocannon, which ignores Retry-After and sends the next
 * frame at once, as a broken pipeline would) first at the saturating concurrency, then at 4x it, and reports the
 * 200s per second of each, their ratio, the refusals per second and the server's peak RSS.
 *
 *   node dist/bench/overload.js [--duration 10] [--score-concurrency 8] [--detect-concurrency 2] [--factor 4]
 *
 * The saturating concurrency is the smallest at which throughput stops growing on this machine (BENCHMARKS.md);
 * the ratio is measured against it in the same run. Other processes on the machine share its cores: say so when
 * recording figures.
 */
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { type AddressInfo, createServer } from 'node:net';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import autocannon from 'autocannon';
import { serverArgs, waitUp } from './proc-stats.js';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const { values } = parseArgs({
  options: {
    duration: { type: 'string', default: '10' },
    'score-concurrency': { type: 'string', default: '8' },
    'detect-concurrency': { type: 'string', default: '2' },
    factor: { type: 'string', default: '4' },
  },
});
const duration = Number(values.duration);
const factor = Number(values.factor);
const frame = readFileSync(resolve(ROOT, 'test/fixtures/frames/messi_416.jpg'));

function rssMb(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  return Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0) / 1024;
}

async function freePort(): Promise<number> {
  const probe = createServer();
  await new Promise<void>((r) => probe.listen(0, '127.0.0.1', r));
  const { port } = probe.address() as AddressInfo;
  await new Promise((r) => probe.close(r));
  return port;
}

async function start(): Promise<{ url: string; pid: number; stop(): void }> {
  const port = await freePort();
  const args = serverArgs(ROOT, port, '--route', '/score=colorIntensity', '--route', '/detect=objectDetection');
  const child = spawn(process.execPath, args, { stdio: ['ignore', 'inherit', 'inherit'] });
  const url = `http://127.0.0.1:${port}`;
  // Ready, not only listening: the detector's model must be loaded before the windows start.
  await waitUp(`${url}/health/ready`, child, 120_000);
  return { url, pid: child.pid!, stop: () => child.kill('SIGTERM') };
}

interface Cell {
  route: string;
  connections: number;
  okPerS: number;
  refusedPerS: number;
  otherPerS: number;
  p99Ms: number;
  peakRssMb: number;
}

async function drive(url: string, pid: number, route: string, connections: number): Promise<Cell> {
  let peak = rssMb(pid);
  const sampler = setInterval(() => {
    peak = Math.max(peak, rssMb(pid));
  }, 200);
  let ok = 0;
  let refused = 0;
  let other = 0;
  const instance = autocannon({
    url: `${url}${route}`,
    method: 'POST',
    headers: { 'content-type': 'image/jpeg' },
    body: frame,
    connections,
    duration,
  });
  instance.on('response', (_client: unknown, status: number) => {
    if (status === 200 || status === 204) ok++;
    else if (status === 503) refused++;
    else other++;
  });
  const result = await instance;
  clearInterval(sampler);
  const seconds = result.duration;
  return {
    route,
    connections,
    okPerS: ok / seconds,
    refusedPerS: refused / seconds,
    otherPerS: (other + result.errors) / seconds,
    p99Ms: result.latency.p99,
    peakRssMb: peak,
  };
}

const server = await start();
const rows: string[] = [];
try {
  for (const [route, saturating] of [
    ['/score', Number(values['score-concurrency'])],
    ['/detect', Number(values['detect-concurrency'])],
  ] as const) {
    // Warm-up (model loaded, JIT): not counted.
    await drive(server.url, server.pid, route, saturating).catch(() => undefined);
    const saturated = await drive(server.url, server.pid, route, saturating);
    const over = await drive(server.url, server.pid, route, saturating * factor);
    for (const cell of [saturated, over]) {
      rows.push(
        `| ${cell.route} | ${cell.connections} | ${cell.okPerS.toFixed(1)} | ${cell.refusedPerS.toFixed(1)} | ` +
          `${cell.otherPerS.toFixed(1)} | ${cell.p99Ms} | ${cell.peakRssMb.toFixed(0)} | ` +
          `${cell === over ? `${((100 * over.okPerS) / saturated.okPerS).toFixed(0)}%` : '100% (reference)'} |`,
      );
    }
  }
} finally {
  server.stop();
}
process.stdout.write(
  `| route | connections | 200/s | 503/s | other/s | p99 ms | peak RSS MB | goodput vs saturated |\n|---|---|---|---|---|---|---|---|\n${rows.join('\n')}\n`,
);

/**
 * `npm run bench`: drives our server and the vendor-sample reference (../shared/reference/ref_server.py) with wrk
 * at several concurrencies on the frames a pipeline sends, and reports req/s, p50/p99 latency, CPU-ms per request
 * and peak RSS of each server side by side. CPU and memory are read from /proc for the server process (our worker
 * threads live in it), so the load generator's own CPU is not counted.
 *
 *   node dist/bench/run.js [--duration 10] [--warmup 3] [--concurrency 1,8,64] [--only 416-jpeg,1080p-jpeg,416-bmp]
 *                          [--servers ours,ours-inline,reference,ours-workers,ours-one-process,ours-fallback,baseline]
 *                          [--baseline DIR]
 *                          [--images DIR] [--cpu-prof DIR]
 *                          [--workers N] [--no-heap-flags] [--no-processors]
 *
 * Our server is started as `npm start` starts it, with the heap flags of src/cli/heap-flags.ts; --no-heap-flags
 * starts it with V8's defaults instead.
 *
 * `baseline` is the same server built from another checkout (`--baseline DIR`, e.g. a git worktree of main before
 * a change, with its own `npm run build`), so that before and after are measured in one run.
 *
 * Markdown goes to stdout; every figure also goes to bench/results/<timestamp>.json (gitignored).
 */
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import sharp from 'sharp';
import { SERVER_HEAP_FLAGS } from '../src/cli/heap-flags.js';
import { encodeBmp } from '../src/pipeline/pixel-encoders.js';
import { procKiB, procStat, resetPeak, residentOnceKiB, waitUp } from './proc-stats.js';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const SHARED = resolve(ROOT, '../shared');

interface Case {
  id: string;
  label: string;
  file: string;
  contentType: string;
}

interface ServerSpec {
  id: 'ours' | 'ours-inline' | 'ours-workers' | 'ours-one-process' | 'ours-fallback' | 'baseline' | 'reference';
  label: string;
  command: string;
  args: (port: number) => string[];
  env?: NodeJS.ProcessEnv;
}

interface Cell {
  server: string;
  case: string;
  concurrency: number;
  requests: number;
  rps: number;
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
  errors: number;
  cpuMsPerRequest: number;
  /** Of which the main thread (HTTP parsing, routing, dispatch to workers, answers). */
  mainCpuMsPerRequest: number;
  peakRssMiB: number;
}

const { values: opts } = parseArgs({
  options: {
    duration: { type: 'string', default: '10' },
    warmup: { type: 'string', default: '3' },
    concurrency: { type: 'string', default: '1,8,64' },
    only: { type: 'string' },
    servers: { type: 'string', default: 'ours,ours-inline,reference' },
    images: { type: 'string' },
    baseline: { type: 'string' },
    port: { type: 'string', default: '5301' },
    'cpu-prof': { type: 'string' },
    workers: { type: 'string' },
    // The processor served at /score (colorIntensity, as the vendor's sample; the reference serves only that), and
    // how many streams the requests rotate over (`?stream=s0..`; 0: none). `motion --streams 8` weighs a stateful one.
    processor: { type: 'string', default: 'colorIntensity' },
    streams: { type: 'string', default: '0' },
    // After the HTTP comparison, the per-processor benchmark (bench/processor-throughput.ts): on by default, off
    // when --only picks cells or with --no-processors.
    processors: { type: 'boolean', default: true },
    'no-processors': { type: 'boolean', default: false },
    'no-heap-flags': { type: 'boolean', default: false },
    help: { type: 'boolean', default: false },
  },
});

if (opts.help) {
  process.stdout.write(
    readFileSync(fileURLToPath(import.meta.url), 'utf8')
      .split('*/')[0]!
      .replace(/^\/\*\*|^ \* ?/gm, ''),
  );
  process.exit(0);
}

const duration = Number(opts.duration);
const warmup = Number(opts.warmup);
const concurrencies = opts.concurrency.split(',').map(Number);
const notes: string[] = [];

/** The three frames of the targets: 416x416 JPEG, 1080p JPEG, 416x416 BMP (GPL images: read in place, never copied). */
async function cases(): Promise<Case[]> {
  const dir = opts.images ?? join(SHARED, 'images/frames');
  let files: [string, string, string];
  if (existsSync(join(dir, 'light_416.jpg'))) {
    files = [join(dir, 'light_416.jpg'), join(dir, 'light_1080p.jpg'), join(dir, 'light_416.bmp')];
  } else {
    // No ../shared: the committed OpenCV fixture, plus a 1080p JPEG and a BMP made from it.
    notes.push(`${dir} not found: using test/fixtures/frames/street100_416.jpg and frames generated from it`);
    const out = join(ROOT, '.tmp/bench');
    mkdirSync(out, { recursive: true });
    const src = join(ROOT, 'test/fixtures/frames/street100_416.jpg');
    const hd = join(out, 'street100_1080p.jpg');
    await sharp(src).resize(1920, 1080, { fit: 'fill' }).jpeg({ quality: 90 }).toFile(hd);
    const { data, info } = await sharp(src).removeAlpha().raw().toBuffer({ resolveWithObject: true });
    const bmp = join(out, 'street100_416.bmp');
    writeFileSync(bmp, encodeBmp(new Uint8Array(data), info.width, info.height));
    files = [src, hd, bmp];
  }
  const all: Case[] = [
    { id: '416-jpeg', label: '416x416 JPEG', file: files[0], contentType: 'image/jpeg' },
    { id: '1080p-jpeg', label: '1080p JPEG', file: files[1], contentType: 'image/jpeg' },
    { id: '416-bmp', label: '416x416 BMP', file: files[2], contentType: 'image/bmp' },
  ];
  const only = opts.only?.split(',');
  return only === undefined ? all : all.filter((c) => only.includes(c.id));
}

function servers(): ServerSpec[] {
  const wanted = opts.servers.split(',');
  const list: ServerSpec[] = [];
  const prof = opts['cpu-prof'];
  // As `npm start` and the container start it: with the server heap flags (src/cli/heap-flags.ts), unless
  // --no-heap-flags measures V8's defaults, spelled out so that the supervisor (inline) does not add ours.
  const ours = (port: number, root = ROOT) => [
    ...(opts['no-heap-flags'] ? ['--max-semi-space-size=16', '--initial-heap-size=0'] : SERVER_HEAP_FLAGS),
    ...(prof !== undefined ? ['--cpu-prof', `--cpu-prof-dir=${resolve(prof)}`] : []),
    join(root, 'dist/src/cli/main.js'),
    '-p',
    String(port),
    '--host',
    '127.0.0.1',
    '--log-level',
    'warn',
    // The same service as the vendor's sample: colorIntensity alone (the default routes also load AI models,
    // measured separately by bench/processor-throughput.ts).
    '--route',
    `/score=${opts.processor}`,
    ...(opts.workers !== undefined ? ['--workers', opts.workers] : []),
  ];
  if (wanted.includes('ours')) list.push({ id: 'ours', label: 'httpextension', command: process.execPath, args: ours });
  // Our server in other configurations, to weigh the default against: each is the default plus these flags.
  const variants: Array<{ id: ServerSpec['id']; label: string; flags: string[] }> = [
    // What docs/operations.md once recommended for sub-millisecond processors: frames on the event loop of one
    // process per core (no thread hand-off).
    {
      id: 'ours-inline',
      label: '--execution inline --processes 0',
      flags: ['--execution', 'inline', '--processes', '0'],
    },
    // Every frame on a worker thread (the default before `auto`), to weigh what `auto` gains or loses per frame type.
    { id: 'ours-workers', label: '--execution workers', flags: ['--execution', 'workers'] },
    // One process with a worker per core (the default before `processes` 0), to weigh what the group gains.
    { id: 'ours-one-process', label: '--processes 1', flags: ['--processes', '1'] },
  ];
  for (const { id, label, flags } of variants) {
    if (!wanted.includes(id)) continue;
    list.push({
      id,
      label: `httpextension, ${label}`,
      command: process.execPath,
      args: (port) => [...ours(port), ...flags],
    });
  }
  if (wanted.includes('baseline')) {
    if (opts.baseline === undefined) throw new Error('--servers baseline needs --baseline DIR (a built checkout)');
    const root = resolve(opts.baseline);
    list.push({
      id: 'baseline',
      label: `httpextension at ${root}`,
      command: process.execPath,
      args: (p) => ours(p, root),
    });
  }
  if (wanted.includes('ours-fallback')) {
    list.push({
      id: 'ours-fallback',
      label: 'httpextension without the JPEG binding',
      command: process.execPath,
      args: ours,
      env: { HTTPEXTENSION_NATIVE_JPEG: '0' },
    });
  }
  if (wanted.includes('reference') && opts.processor !== 'colorIntensity') {
    notes.push(`reference skipped: it serves colorIntensity only, not ${opts.processor}`);
  } else if (wanted.includes('reference')) {
    const script = join(SHARED, 'reference/ref_server.py');
    let missing: string | undefined;
    if (!existsSync(script)) missing = `${script} is absent`;
    else {
      try {
        execFileSync('/usr/bin/python3', ['-c', 'import flask, numpy, cv2'], { stdio: 'ignore' });
      } catch {
        missing =
          'python3-flask/numpy/opencv are not installed (apt-get install -y python3-flask python3-numpy python3-opencv)';
      }
    }
    if (missing === undefined) {
      list.push({
        id: 'reference',
        label: 'reference (vendor sample)',
        command: '/usr/bin/python3',
        args: (port) => [script, '-p', String(port), '--host', '127.0.0.1'],
      });
    } else notes.push(`reference skipped: ${missing}`);
  }
  return list;
}

interface WrkResult {
  requests: number;
  rps: number;
  p50: number;
  p99: number;
  max: number;
  errors: number;
}

/** Runs wrk without blocking the event loop (the servers' stderr pipes must keep draining meanwhile). */
async function wrk(url: string, c: Case, concurrency: number, seconds: number): Promise<WrkResult> {
  const args = [
    '-t1',
    `-c${concurrency}`,
    `-d${seconds}s`,
    '--timeout',
    '10s',
    '--latency',
    '-s',
    join(ROOT, 'bench/post.lua'),
    url,
  ];
  const child = spawn('wrk', args, {
    env: {
      ...process.env,
      BODY_FILE: c.file,
      CONTENT_TYPE: c.contentType,
      CHECK: '1',
      // What a good answer is: colorIntensity classifies every frame; a stateful processor may answer 204 (nothing).
      EXPECT: opts.processor === 'colorIntensity' ? 'colorIntensity' : '',
      STREAMS: opts.streams,
    },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  let out = '';
  child.stdout.on('data', (chunk: Buffer) => {
    out += chunk.toString();
  });
  const code = await new Promise<number | null>((r) => child.once('close', r));
  if (code !== 0) throw new Error(`wrk exited with code ${code}:\n${out}`);
  const line = out.split('\n').find((l) => l.startsWith('RESULT '));
  if (line === undefined) throw new Error(`wrk printed no RESULT line:\n${out}`);
  const kv = Object.fromEntries(
    line
      .slice(7)
      .split(' ')
      .map((pair) => pair.split('=') as [string, string]),
  );
  const n = (k: string) => Number(kv[k] ?? Number.NaN);
  const errors = ['non200', 'badbody', 'err_connect', 'err_read', 'err_write', 'err_timeout', 'err_status'];
  return {
    requests: n('requests'),
    rps: n('rps'),
    p50: n('p50_ms'),
    p99: n('p99_ms'),
    max: n('max_ms'),
    // The reference closes every connection (no keep-alive): wrk counts those reconnects as read errors, not failures.
    errors: errors.reduce((sum, k) => sum + (k === 'err_read' ? 0 : n(k)), 0),
  };
}

async function measureServer(spec: ServerSpec, port: number, list: Case[]) {
  const child = spawn(spec.command, spec.args(port), {
    cwd: ROOT,
    env: { ...process.env, ...spec.env },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  // The reference logs every request on stderr: keep only the tail, shown if the server fails.
  let stderrTail = '';
  child.stderr?.on('data', (chunk: Buffer) => {
    stderrTail = (stderrTail + chunk.toString()).slice(-4000);
  });
  const pid = child.pid!;
  const base = `http://127.0.0.1:${port}`;
  const cells: Cell[] = [];
  try {
    await waitUp(spec.id === 'reference' ? `${base}/` : `${base}/health/ready`, child);
    await new Promise((r) => setTimeout(r, 1000));
    const idleRssMiB = procKiB(pid, 'VmRSS') / 1024;
    const idleOnceMiB = residentOnceKiB(pid) / 1024;
    let perCellPeak = true;
    for (const c of list) {
      for (const concurrency of concurrencies) {
        if (warmup > 0) await wrk(`${base}/score`, c, concurrency, warmup);
        perCellPeak = resetPeak(pid) && perCellPeak;
        const before = procStat(pid);
        const r = await wrk(`${base}/score`, c, concurrency, duration);
        const after = procStat(pid);
        const cell: Cell = {
          server: spec.id,
          case: c.id,
          concurrency,
          requests: r.requests,
          rps: r.rps,
          p50Ms: r.p50,
          p99Ms: r.p99,
          maxMs: r.max,
          errors: r.errors,
          cpuMsPerRequest: (after.cpuMs - before.cpuMs) / Math.max(1, r.requests),
          mainCpuMsPerRequest: (after.mainCpuMs - before.mainCpuMs) / Math.max(1, r.requests),
          peakRssMiB: procKiB(pid, 'VmHWM') / 1024,
        };
        cells.push(cell);
        if (r.requests === 0) notes.push(`${spec.id} ${c.id} c=${concurrency}: no request completed`);
        process.stderr.write(
          `${spec.id} ${c.id} c=${concurrency}: ${r.rps.toFixed(0)} req/s p50 ${r.p50} ms p99 ${r.p99} ms ` +
            `${cell.cpuMsPerRequest.toFixed(2)} CPU-ms/req (main thread ${cell.mainCpuMsPerRequest.toFixed(2)}) peak ${cell.peakRssMiB.toFixed(0)} MiB errors ${r.errors}\n`,
        );
      }
    }
    if (!perCellPeak) notes.push(`${spec.id}: peak RSS is the peak since start (clear_refs not writable)`);
    return { idleRssMiB, idleOnceMiB, cells };
  } catch (error) {
    process.stderr.write(`${spec.id} failed; its stderr ended with:\n${stderrTail}\n`);
    throw error;
  } finally {
    const exited = new Promise((r) => child.once('exit', r));
    child.kill('SIGTERM');
    const force = setTimeout(() => child.kill('SIGKILL'), 15_000);
    await exited;
    clearTimeout(force);
  }
}

function fmt(v: number | undefined, digits = 0): string {
  return v === undefined || !Number.isFinite(v) ? '–' : v.toFixed(digits);
}

async function main(): Promise<void> {
  if (!existsSync(join(ROOT, 'dist/src/cli/main.js'))) throw new Error('run `npm run build` first');
  try {
    execFileSync('wrk', ['--version'], { stdio: 'ignore' });
  } catch (error) {
    // wrk --version exits 1 after printing; only a missing binary matters.
    if ((error as NodeJS.ErrnoException).code === 'ENOENT')
      throw new Error('wrk is not installed (apt-get install -y wrk)');
  }
  const list = await cases();
  const specs = servers();
  const started = new Date();
  const results: Record<string, { idleRssMiB: number; idleOnceMiB: number; cells: Cell[] }> = {};
  let port = Number(opts.port);
  for (const spec of specs) results[spec.id] = await measureServer(spec, port++, list);

  const machine = {
    nproc: cpus().length,
    cpu: cpus()[0]?.model ?? 'unknown',
    node: process.version,
    loadAverageAtEnd: (await import('node:os')).loadavg().map((v) => Number(v.toFixed(2))),
  };
  const lines: string[] = [];
  lines.push(`Machine: ${machine.nproc} cores, ${machine.cpu}, Node ${machine.node}; ${started.toISOString()}`);
  lines.push(
    `Load average at the end (1/5/15 min): ${machine.loadAverageAtEnd.join(' / ')} (above ~2.5, other work shared the cores).`,
  );
  lines.push(
    `Each cell: ${warmup} s warm-up, then ${duration} s of wrk -t1 (keep-alive; CHECK=1 checks every answer).`,
  );
  lines.push('');
  const ref = results.reference;
  const cell = (server: string, c: string, n: number) =>
    results[server]?.cells.find((x) => x.case === c && x.concurrency === n);
  const others = specs.filter((s) => s.id !== 'reference');
  for (const spec of others) {
    lines.push(`### ${spec.label}${ref ? ' vs reference' : ''}`);
    lines.push('');
    lines.push(
      ref
        ? '| frame | c | req/s | ref req/s | ×ref | p50 ms | p99 ms | ref p99 ms | p99 ÷ref | CPU-ms/req (main thread) | ref CPU-ms/req | peak RSS MiB | ref peak MiB | errors |'
        : '| frame | c | req/s | p50 ms | p99 ms | CPU-ms/req (main thread) | peak RSS MiB | errors |',
    );
    lines.push(ref ? `|${' --- |'.repeat(14)}` : `|${' --- |'.repeat(8)}`);
    for (const c of list) {
      for (const n of concurrencies) {
        const o = cell(spec.id, c.id, n)!;
        const r = cell('reference', c.id, n);
        lines.push(
          ref
            ? `| ${c.label} | ${n} | ${fmt(o.rps)} | ${fmt(r?.rps)} | ${fmt(r ? o.rps / r.rps : undefined, 1)} | ${fmt(o.p50Ms, 2)} | ${fmt(o.p99Ms, 2)} | ${fmt(r?.p99Ms, 2)} | ${fmt(r ? o.p99Ms / r.p99Ms : undefined, 3)} | ${fmt(o.cpuMsPerRequest, 2)} (${fmt(o.mainCpuMsPerRequest, 2)}) | ${fmt(r?.cpuMsPerRequest, 2)} | ${fmt(o.peakRssMiB)} | ${fmt(r?.peakRssMiB)} | ${o.errors}${r ? `/${r.errors}` : ''} |`
            : `| ${c.label} | ${n} | ${fmt(o.rps)} | ${fmt(o.p50Ms, 2)} | ${fmt(o.p99Ms, 2)} | ${fmt(o.cpuMsPerRequest, 2)} (${fmt(o.mainCpuMsPerRequest, 2)}) | ${fmt(o.peakRssMiB)} | ${o.errors} |`,
        );
      }
    }
    lines.push('');
    lines.push(
      `Idle RSS: ${spec.label} ${fmt(results[spec.id]!.idleRssMiB)} MiB summed over its processes, ${fmt(results[spec.id]!.idleOnceMiB)} MiB with shared pages once${ref ? `; reference ${fmt(ref.idleRssMiB)} MiB` : ''}.`,
    );
    lines.push('');
    if (ref) lines.push(...targets(spec.id, results[spec.id]!, ref, cell), '');
  }
  if (notes.length > 0) lines.push(...notes.map((n) => `Note: ${n}`), '');
  process.stdout.write(`${lines.join('\n')}\n`);

  const dir = join(ROOT, 'bench/results');
  mkdirSync(dir, { recursive: true });
  const file = join(dir, `${started.toISOString().replace(/[:.]/g, '-')}.json`);
  const config = { duration, warmup, concurrencies, cases: list, servers: specs.map((s) => s.id) };
  writeFileSync(file, `${JSON.stringify({ machine, config, notes, results }, null, 2)}\n`);
  process.stderr.write(`results written to ${file}\n`);
}

/** The issue's targets at c=8 (where a case or the reference was not measured, the target is not judged). */
function targets(
  id: string,
  ours: { idleOnceMiB: number },
  ref: { idleOnceMiB: number },
  cell: (server: string, c: string, n: number) => Cell | undefined,
): string[] {
  const out = ['Targets at c=8:', ''];
  const check = (caseId: string, label: string, rpsFactor: number, p99Factor?: number) => {
    const o = cell(id, caseId, 8);
    const r = cell('reference', caseId, 8);
    if (o === undefined || r === undefined) return;
    const rpsOk = o.rps >= rpsFactor * r.rps;
    let text = `- ${label}: req/s ${fmt(o.rps / r.rps, 1)}× the reference (target ≥ ${rpsFactor}×) ${rpsOk ? 'met' : 'NOT met'}`;
    if (p99Factor !== undefined) {
      const p99Ok = o.p99Ms <= r.p99Ms / p99Factor;
      text += `; p99 ${fmt(o.p99Ms / r.p99Ms, 3)} of the reference's (target ≤ 1/${p99Factor}) ${p99Ok ? 'met' : 'NOT met'}`;
    }
    out.push(text);
  };
  check('416-jpeg', '416x416 JPEG', 5, 5);
  check('1080p-jpeg', '1080p JPEG', 3);
  check('416-bmp', '416x416 BMP', 5);
  out.push(
    `- idle RSS (shared pages once) ${fmt(ours.idleOnceMiB)} MiB vs the reference's ${fmt(ref.idleOnceMiB)} MiB (target: below) ${ours.idleOnceMiB < ref.idleOnceMiB ? 'met' : 'NOT met'}`,
  );
  return out;
}

main()
  .then(() => {
    if (opts['no-processors'] || !opts.processors || opts.only !== undefined) return;
    // Per-processor throughput (bare model vs the whole server), in its own process so its models load there.
    const result = spawnSync(process.execPath, [fileURLToPath(new URL('./processor-throughput.js', import.meta.url))], {
      stdio: 'inherit',
    });
    if (result.status !== 0) process.exitCode = result.status ?? 1;
  })
  .catch((error: unknown) => {
    process.stderr.write(`bench failed: ${(error as Error).stack ?? String(error)}\n`);
    process.exit(1);
  });

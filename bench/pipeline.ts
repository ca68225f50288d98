// biome-ignore-all lint/suspicious/noTemplateCurlyInString: topologies write their parameters as ${name} in plain strings
/**
 * `npm run bench:pipeline`: CPU and memory per live pipeline of `httpextension pipeline`, the figures that size an
 * edge box. A 1080p H.264 camera (a generated file played at its native rate, as a camera sends it: testsrc2, which
 * moves all the time, so the motion detector fires on every window and the signal gate never stays closed) runs
 * through the vendor's event-based recording topology (MotionDetectionProcessor -> SignalGateProcessor -> VideoSink,
 * motion events to a hub sink), and the same with 1 fps inference added (an HttpExtension, JPEG 416x416, to a fixed
 * answer double in another process), for 1, 4 and 8 pipelines in one runner process.
 *
 *   node dist/bench/pipeline.js [--pipelines 1,4,8] [--warmup 5] [--duration 30] [--fps 30] [--keep]
 *
 * CPU: utime + stime of the runner and its ffmpeg children (the decoders and the MP4 writers, reaped ones included)
 * over the measured window. Memory: RSS of the runner process alone (the JS heap and buffers: what could grow with a
 * long gate or a lagging sink) sampled every second, and of the runner with its children. Kept up: frames the
 * pipelines read against what the camera sent in that time (below 100%: this machine cannot decode that many).
 */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { procKiB, procStat } from './proc-stats.js';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const MAIN = join(ROOT, 'dist/src/cli/main.js');
const WORK = join(ROOT, '.tmp/bench-pipeline');

const { values: args } = parseArgs({
  options: {
    pipelines: { type: 'string', default: '1,4,8' },
    warmup: { type: 'string', default: '5' },
    duration: { type: 'string', default: '30' },
    fps: { type: 'string', default: '30' },
    keep: { type: 'boolean', default: false },
  },
});
const counts = args.pipelines.split(',').map(Number);
const warmupS = Number(args.warmup);
const durationS = Number(args.duration);
const fps = Number(args.fps);

/** A 1080p H.264 "camera": 4 Mbit/s, a keyframe every 2 s, long enough for warm-up and window. */
function makeSource(): string {
  const seconds = warmupS + durationS + 10;
  const path = join(WORK, `testsrc2-1080p${fps}-${seconds}s.mp4`);
  if (existsSync(path)) return path;
  mkdirSync(WORK, { recursive: true });
  const result = spawnSync('ffmpeg', [
    '-hide_banner',
    '-loglevel',
    'error',
    '-f',
    'lavfi',
    '-i',
    `testsrc2=size=1920x1080:rate=${fps}:duration=${seconds}`,
    '-c:v',
    'libx264',
    '-preset',
    'veryfast',
    '-b:v',
    '4M',
    '-g',
    String(fps * 2),
    '-pix_fmt',
    'yuv420p',
    '-y',
    path,
  ]);
  if (result.status !== 0) throw new Error(`ffmpeg: ${result.stderr.toString()}`);
  return path;
}

function topology(withInference: boolean, extensionUrl: string): object {
  const source = '#Microsoft.VideoAnalyzer.';
  const processors: object[] = [
    {
      '@type': `${source}MotionDetectionProcessor`,
      name: 'motionDetection',
      sensitivity: 'medium',
      inputs: [{ nodeName: 'rtspSource' }],
    },
    {
      '@type': `${source}SignalGateProcessor`,
      name: 'signalGate',
      inputs: [{ nodeName: 'motionDetection' }, { nodeName: 'rtspSource' }],
      activationEvaluationWindow: 'PT1S',
      activationSignalOffset: '-PT5S',
      minimumActivationTime: 'PT30S',
      maximumActivationTime: 'PT30S',
    },
  ];
  const hubInputs = [{ nodeName: 'motionDetection' }];
  if (withInference) {
    processors.push({
      '@type': `${source}HttpExtension`,
      name: 'httpExtension',
      endpoint: { '@type': `${source}UnsecuredEndpoint`, url: extensionUrl },
      image: {
        scale: { mode: 'pad', width: '416', height: '416' },
        format: { '@type': `${source}ImageFormatJpeg`, quality: '90' },
      },
      samplingOptions: { maximumSamplesPerSecond: '1' },
      inputs: [{ nodeName: 'rtspSource' }],
    });
    hubInputs.push({ nodeName: 'httpExtension' });
  }
  return {
    '@apiVersion': '1.1',
    name: withInference ? 'EVRWithInference' : 'EVROnMotion',
    properties: {
      parameters: [{ name: 'rtspUrl', type: 'String' }],
      sources: [
        {
          '@type': `${source}RtspSource`,
          name: 'rtspSource',
          endpoint: { '@type': `${source}UnsecuredEndpoint`, url: '${rtspUrl}' },
        },
      ],
      processors,
      sinks: [
        {
          '@type': `${source}VideoSink`,
          name: 'videoSink',
          videoName: 'bench-${System.PipelineName}',
          localMediaCachePath: '/var/lib/videoanalyzer/tmp/',
          localMediaCacheMaximumSizeMiB: '256',
          videoCreationProperties: { segmentLength: 'PT30S' },
          inputs: [{ nodeName: 'signalGate' }],
        },
        { '@type': `${source}IotHubMessageSink`, name: 'hubSink', hubOutputName: 'inferenceOutput', inputs: hubInputs },
      ],
    },
  };
}

/** The extension: a fixed answer, in its own process so that its CPU is not the runner's. */
function startExtension(): Promise<{ url: string; child: ChildProcess }> {
  const code = `require('node:http').createServer((q,s)=>{q.resume();q.on('end',()=>{s.writeHead(200,{'content-type':'application/json'});s.end('{"inferences":[{"type":"entity","entity":{"tag":{"value":"person","confidence":0.9},"box":{"l":0.1,"t":0.1,"w":0.2,"h":0.3}}}]}')})}).listen(0,'127.0.0.1',function(){console.log(this.address().port)})`;
  const child = spawn(process.execPath, ['-e', code], { stdio: ['ignore', 'pipe', 'inherit'] });
  return new Promise((resolvePort) => {
    child.stdout!.once('data', (d: Buffer) =>
      resolvePort({ url: `http://127.0.0.1:${d.toString().trim()}/score`, child }),
    );
  });
}

interface Cell {
  topology: string;
  pipelines: number;
  cpuPercent: number;
  cpuPercentPerPipeline: number;
  runnerRssMiBStart: number;
  runnerRssMiBEnd: number;
  runnerRssMiBPeak: number;
  treeRssMiBPeak: number;
  keptUpPercent: number;
  segments: number;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function measure(source: string, name: string, withInference: boolean, n: number, extensionUrl: string) {
  const dir = join(WORK, `${name}-${n}`);
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  const topologyFile = join(dir, 'topology.json');
  writeFileSync(topologyFile, JSON.stringify(topology(withInference, extensionUrl)));
  const list = Array.from({ length: n }, (_, i) => ({
    name: `cam${i + 1}`,
    properties: { topologyFile: 'topology.json', parameters: [{ name: 'rtspUrl', value: source }] },
  }));
  const listFile = join(dir, 'pipelines.json');
  writeFileSync(listFile, JSON.stringify(list));
  const child = spawn(
    process.execPath,
    [
      MAIN,
      'pipeline',
      '--live-pipelines',
      listFile,
      topologyFile,
      '--media-root',
      join(dir, 'media'),
      '-o',
      '/dev/null',
      '--no-progress',
    ],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  );
  let stderr = '';
  child.stderr!.setEncoding('utf8').on('data', (t: string) => (stderr += t));
  const exited = new Promise<void>((r) => child.on('close', () => r()));
  const pid = child.pid!;
  await sleep(warmupS * 1000);
  const rss = () => procKiB(pid, 'VmRSS');
  const own = () => Number(/^VmRSS:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? Number.NaN);
  const startCpu = procStat(pid, true).cpuMs;
  const startedAt = Date.now();
  const ownSamples: number[] = [];
  let treePeak = 0;
  while (Date.now() - startedAt < durationS * 1000) {
    ownSamples.push(own());
    treePeak = Math.max(treePeak, rss());
    await sleep(1000);
  }
  const cpuMs = procStat(pid, true).cpuMs - startCpu;
  const elapsedMs = Date.now() - startedAt;
  child.kill('SIGINT');
  await exited;
  // "cam1: read 1234, ..." per pipeline; the run lasted warm-up + window + shutdown.
  const reads = [...stderr.matchAll(/cam\d+: read (\d+)/g)].map((m) => Number(m[1]));
  const segments = [...stderr.matchAll(/segments (\d+)/g)].reduce((sum, m) => sum + Number(m[1]), 0);
  const ranS = (Date.now() - startedAt) / 1000 + warmupS;
  const keptUp = reads.length === n ? (reads.reduce((a, b) => a + b, 0) / (n * fps * ranS)) * 100 : Number.NaN;
  const cpuPercent = (cpuMs / elapsedMs) * 100;
  const cell: Cell = {
    topology: name,
    pipelines: n,
    cpuPercent,
    cpuPercentPerPipeline: cpuPercent / n,
    runnerRssMiBStart: ownSamples[0]! / 1024,
    runnerRssMiBEnd: ownSamples.at(-1)! / 1024,
    runnerRssMiBPeak: Math.max(...ownSamples) / 1024,
    treeRssMiBPeak: treePeak / 1024,
    keptUpPercent: keptUp,
    segments,
  };
  if (!args.keep) rmSync(dir, { recursive: true, force: true });
  return cell;
}

async function main(): Promise<void> {
  const source = makeSource();
  const extension = await startExtension();
  const cells: Cell[] = [];
  try {
    for (const [name, withInference] of [
      ['motion + gate + recording', false],
      ['+ 1 fps inference', true],
    ] as const) {
      for (const n of counts) {
        const cell = await measure(source, name, withInference, n, extension.url);
        cells.push(cell);
        process.stderr.write(`${JSON.stringify(cell)}\n`);
      }
    }
  } finally {
    extension.child.kill('SIGTERM');
  }
  const f = (x: number, d = 0) => (Number.isFinite(x) ? x.toFixed(d) : 'n/a');
  const lines = [
    `Machine: ${cpus().length} cores, ${cpus()[0]?.model ?? '?'}, Node ${process.version}; ${new Date().toISOString()}; source 1920x1080 ${fps} fps H.264 4 Mbit/s; ${warmupS} s warm-up, ${durationS} s measured`,
    '',
    '| topology | pipelines | CPU % (of one core) | CPU % per pipeline | runner RSS MiB start / end / peak | with ffmpeg children, peak MiB | frames kept up | segments |',
    '|---|---:|---:|---:|---:|---:|---:|---:|',
    ...cells.map(
      (c) =>
        `| ${c.topology} | ${c.pipelines} | ${f(c.cpuPercent)} | ${f(c.cpuPercentPerPipeline)} | ${f(c.runnerRssMiBStart)} / ${f(c.runnerRssMiBEnd)} / ${f(c.runnerRssMiBPeak)} | ${f(c.treeRssMiBPeak)} | ${f(c.keptUpPercent)}% | ${c.segments} |`,
    ),
  ];
  process.stdout.write(`${lines.join('\n')}\n`);
  const out = join(ROOT, 'bench/results');
  mkdirSync(out, { recursive: true });
  writeFileSync(join(out, `pipeline-${Date.now()}.json`), `${JSON.stringify(cells, null, 2)}\n`);
}

await main();

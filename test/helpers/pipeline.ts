// biome-ignore-all lint/suspicious/noTemplateCurlyInString: topologies write their parameters as ${name} in plain strings
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import sharp from 'sharp';
import type { MessageSink } from '../../src/pipeline/message-sink.js';
import type { PipelineMessage } from '../../src/pipeline/pipeline-message.js';
import { PipelineRunner, type RunnerCounters, type RunnerOptions } from '../../src/pipeline/pipeline-runner.js';
import { parseTopology } from '../../src/pipeline/topology.js';
import { cachedFfmpeg } from './videos.js';

/** A fixture path under test/fixtures (tests run from dist/test). */
export function fixturePath(path: string): string {
  return fileURLToPath(new URL(`../../../test/fixtures/${path}`, import.meta.url));
}

export const STREET_MP4 = fixturePath('video/street.mp4');
const MAIN = fileURLToPath(new URL('../../src/cli/main.js', import.meta.url));

export interface TempDir {
  path: string;
  file(name: string, content: string | Uint8Array | object): string;
  remove(): void;
}

export function tempDir(): TempDir {
  const path = mkdtempSync(join(tmpdir(), 'hx-pipeline-'));
  return {
    path,
    file(name, content) {
      const full = join(path, name);
      writeFileSync(
        full,
        typeof content === 'string' || content instanceof Uint8Array ? content : JSON.stringify(content),
      );
      return full;
    },
    remove: () => rmSync(path, { recursive: true, force: true }),
  };
}

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
  messages: PipelineMessage[];
}

/** Runs `httpextension ARGS` as a child process (the real CLI) and collects its JSON-lines output. */
export function runCli(args: string[], options: { onSpawn?: (pid: number) => void } = {}): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [MAIN, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    if (child.pid !== undefined) options.onSpawn?.(child.pid);
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (t: string) => (stdout += t));
    child.stderr.setEncoding('utf8').on('data', (t: string) => (stderr += t));
    child.on('error', reject);
    child.on('close', (code) => {
      const messages = stdout
        .split('\n')
        .filter((l) => l !== '')
        .map((l) => JSON.parse(l) as PipelineMessage);
      resolve({ code, stdout, stderr, messages });
    });
  });
}

/** An AVA 1.1 topology: one source, one HttpExtension node, one IoT Hub sink; `extension` overrides the node. */
export function avaTopology(extension: Record<string, unknown> = {}, source: Record<string, unknown> = {}): object {
  return {
    '@apiVersion': '1.1',
    name: 'TestTopology',
    properties: {
      parameters: [
        { name: 'rtspUrl', type: 'String' },
        { name: 'inferencingUrl', type: 'String' },
      ],
      sources: [
        {
          '@type': '#Microsoft.VideoAnalyzer.RtspSource',
          name: 'rtspSource',
          transport: 'tcp',
          endpoint: { '@type': '#Microsoft.VideoAnalyzer.UnsecuredEndpoint', url: '${rtspUrl}' },
          ...source,
        },
      ],
      processors: [
        {
          '@type': '#Microsoft.VideoAnalyzer.HttpExtension',
          name: 'httpExtension',
          endpoint: { '@type': '#Microsoft.VideoAnalyzer.UnsecuredEndpoint', url: '${inferencingUrl}' },
          image: { format: { '@type': '#Microsoft.VideoAnalyzer.ImageFormatBmp' } },
          inputs: [{ nodeName: 'rtspSource' }],
          ...extension,
        },
      ],
      sinks: [
        {
          '@type': '#Microsoft.VideoAnalyzer.IotHubMessageSink',
          name: 'hubSink',
          hubOutputName: 'inferenceOutput',
          inputs: [{ nodeName: 'httpExtension' }],
        },
      ],
    },
  };
}

/**
 * An 80x60 image of four flat quadrants (red, green / blue, white): scale modes and formats can be checked pixel by
 * pixel at the quadrant centres, away from resampled edges. ffmpeg reads a PNG as a one-frame video.
 */
export async function quadrantPng(dir: TempDir): Promise<string> {
  const w = 80;
  const h = 60;
  const rgb = Buffer.alloc(w * h * 3);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      const q = (y < h / 2 ? 0 : 2) + (x < w / 2 ? 0 : 1);
      const colour = [
        [255, 0, 0],
        [0, 255, 0],
        [0, 0, 255],
        [255, 255, 255],
      ][q]!;
      rgb.set(colour, (y * w + x) * 3);
    }
  }
  const png = await sharp(rgb, { raw: { width: w, height: h, channels: 3 } })
    .png()
    .toBuffer();
  return dir.file('quadrants.png', png);
}

/** The first `frames` frames of street.mp4 (10 fps; stream copy: it has a keyframe every 10 frames). */
export function streetClip(dir: TempDir, frames: number): Promise<string> {
  return cachedFfmpeg(
    ['-i', STREET_MP4, '-frames:v', String(frames), '-c', 'copy'],
    join(dir.path, `street-${frames}.mp4`),
    [STREET_MP4],
  );
}

export interface ReceivedRequest {
  method: string;
  url: string;
  headers: IncomingMessage['headers'];
  body: Buffer;
  at: number;
}

export interface TestDouble {
  url: string;
  requests: ReceivedRequest[];
  /** Highest number of requests handled at the same time. */
  maxConcurrent: number;
  close(): Promise<void>;
}

/** A plain node:http extension double on 127.0.0.1: `handler` answers each request (index from 0). */
export async function startDouble(
  handler: (request: ReceivedRequest, index: number, response: ServerResponse) => void | Promise<void>,
  tls?: { key: string; cert: string },
): Promise<TestDouble> {
  const requests: ReceivedRequest[] = [];
  let concurrent = 0;
  const double: TestDouble = { url: '', requests, maxConcurrent: 0, close: async () => {} };
  const listener = (req: IncomingMessage, res: ServerResponse) => {
    concurrent++;
    double.maxConcurrent = Math.max(double.maxConcurrent, concurrent);
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const received: ReceivedRequest = {
        method: req.method ?? '',
        url: req.url ?? '',
        headers: req.headers,
        body: Buffer.concat(chunks),
        at: Date.now(),
      };
      requests.push(received);
      res.on('finish', () => concurrent--);
      Promise.resolve(handler(received, requests.length - 1, res)).catch((error: unknown) => {
        res.statusCode = 599;
        res.end(String(error));
      });
    });
  };
  const server: Server = tls ? createHttpsServer(tls, listener) : createServer(listener);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  double.url = `${tls ? 'https' : 'http'}://127.0.0.1:${(server.address() as AddressInfo).port}/score`;
  double.close = () =>
    new Promise<void>((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    });
  return double;
}

export function json(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  res.writeHead(status, { 'content-type': 'application/json', ...headers });
  res.end(JSON.stringify(body));
}

/** A sink that keeps what the pipeline publishes, for in-process runs. */
export class CollectingSink implements MessageSink {
  readonly messages: PipelineMessage[] = [];
  async publish(message: PipelineMessage): Promise<void> {
    this.messages.push(message);
  }
  async close(): Promise<void> {}
}

/** Runs one topology in-process, as fast as the extension answers, and returns what it published. */
export async function runInProcess(
  topology: object,
  values: Record<string, string>,
  { name = 'test', ...options }: Partial<RunnerOptions> & { name?: string } = {},
): Promise<{ messages: PipelineMessage[]; counters: RunnerCounters; notices: string[]; origin90k: number }> {
  const sink = new CollectingSink();
  const notices: string[] = [];
  const runner = new PipelineRunner(parseTopology(topology, values), name, sink, {
    realtime: false,
    retryAfterDefaultSecs: 1,
    requestTimeoutMs: 10_000,
    onNotice: (m) => notices.push(m),
    ...options,
  });
  const counters = await runner.run();
  return { messages: sink.messages, counters, notices, origin90k: runner.origin90k };
}

/**
 * Checks the vendor's absolute clock on analytics messages (`timestamp / 90000` is `eventTime` in seconds since the
 * epoch, to the millisecond) and returns their timestamps as media time, relative to `origin90k` (the runner's media
 * time 0; for CLI runs, where it is not known, the first timestamp minus `firstAt` ticks).
 */
export function mediaTimes(messages: readonly PipelineMessage[], origin90k?: number, firstAt = 0): number[] {
  const stamps = messages.map((m) => {
    const t = m.body.timestamp;
    if (typeof t !== 'number') throw new Error(`no timestamp in ${JSON.stringify(m)}`);
    if (Math.floor(t / 90) !== Date.parse(m.properties.eventTime)) {
      throw new Error(`timestamp ${t} / 90000 is not eventTime ${m.properties.eventTime}`);
    }
    return t;
  });
  // An absolute clock: within a day of now, whatever the source.
  if (stamps.length > 0 && Math.abs(stamps[0]! / 90 - Date.now()) > 86_400_000) {
    throw new Error(`timestamp ${stamps[0]} is not near now`);
  }
  const origin = origin90k ?? (stamps[0] ?? 0) - firstAt;
  return stamps.map((t) => t - origin);
}

/** A TCP port free on 127.0.0.1 right now (for servers that must be told their port up front). */
export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/** A mosquitto broker on a free loopback port, for as long as the test needs it (clients retry until it listens). */
export async function startBroker(dir: TempDir): Promise<{ url: string; stop(): void }> {
  const port = await freePort();
  const conf = dir.file('mosquitto.conf', `listener ${port} 127.0.0.1\nallow_anonymous true\npersistence false\n`);
  const binary = process.env.PATH?.split(':').some((p) => p === '/usr/sbin') ? 'mosquitto' : '/usr/sbin/mosquitto';
  const broker = spawn(binary, ['-c', conf], { stdio: 'ignore' });
  broker.on('error', () => {});
  return { url: `mqtt://127.0.0.1:${port}`, stop: () => broker.kill('SIGTERM') };
}

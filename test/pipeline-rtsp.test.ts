// biome-ignore-all lint/suspicious/noTemplateCurlyInString: topologies write their parameters as ${name} in plain strings
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { findFfmpeg } from '../src/pipeline/ffmpeg.js';
import { PipelineRunner } from '../src/pipeline/pipeline-runner.js';
import { parseTopology } from '../src/pipeline/topology.js';
import { validateResponse } from '../src/schema/validate.js';
import {
  avaTopology,
  CollectingSink,
  fixturePath,
  freePort,
  mediaTimes,
  STREET_MP4,
  tempDir,
} from './helpers/pipeline.js';
import { startRtspTcpServer } from './helpers/rtsp-tcp-server.js';
import { startTestServer, type TestServer } from './helpers/server.js';
import { probe } from './helpers/videos.js';

/**
 * RtspSource end to end: ffmpeg publishes street.mp4 at its native rate into an RTSP server on 127.0.0.1 (the
 * rtsp-streaming-server package, which serves RTP over UDP), the runner reads it with credentials, samples it by
 * PTS and feeds our server.
 */
function viewerEndpoint(password: string): object {
  return {
    '@type': '#Microsoft.VideoAnalyzer.UnsecuredEndpoint',
    url: '${rtspUrl}',
    credentials: { '@type': '#Microsoft.VideoAnalyzer.UsernamePasswordCredentials', username: 'viewer', password },
  };
}

describe('RTSP source', () => {
  let server: TestServer;
  let rtsp: ChildProcess;
  let publisher: ChildProcess | undefined;
  let publishUrl: string;
  let clientUrl: string;
  const logins: string[] = [];

  before(async () => {
    server = await startTestServer({ workers: 1 });
    const serverPort = await freePort();
    const clientPort = await freePort();
    const rtpPortStart = 20_000 + 2 * Math.floor(Math.random() * 15_000);
    rtsp = spawn(
      process.execPath,
      [
        fileURLToPath(new URL('./helpers/rtsp-server.js', import.meta.url)),
        String(serverPort),
        String(clientPort),
        String(rtpPortStart),
        'viewer',
        'p@ss word',
      ],
      { stdio: ['ignore', 'pipe', 'inherit'] },
    );
    await new Promise<void>((resolve, reject) => {
      rtsp.on('error', reject);
      rtsp.on('exit', (code) => reject(new Error(`the RTSP server exited with ${code}`)));
      let out = '';
      rtsp.stdout!.setEncoding('utf8').on('data', (text: string) => {
        out += text;
        const lines = out.split('\n');
        out = lines.pop() ?? '';
        for (const line of lines) {
          if (line === 'ready') resolve();
          if (line.startsWith('login ')) logins.push(line.slice(6));
        }
      });
    });
    publishUrl = `rtsp://127.0.0.1:${serverPort}/street`;
    clientUrl = `rtsp://127.0.0.1:${clientPort}/street`;
  });

  after(async () => {
    publisher?.kill('SIGTERM');
    rtsp.kill('SIGTERM');
    await server.close();
  });

  test('a path nobody publishes (404) and a wrong password (401) end the pipeline with a diagnostics event', async () => {
    for (const [path, password, event, code] of [
      ['nothing-here', 'p@ss word', 'ProtocolError', '404'],
      ['street', 'wrong', 'AuthorizationError', '401'],
    ] as const) {
      const sink = new CollectingSink();
      const plan = parseTopology(avaTopology({}, { endpoint: viewerEndpoint(password) }), {
        rtspUrl: clientUrl.replace(/street$/, path),
        inferencingUrl: server.at('/score'),
      });
      const runner = new PipelineRunner(plan, 'cam', sink, {
        realtime: true,
        retryAfterDefaultSecs: 1,
        requestTimeoutMs: 10_000,
        reconnectDelayMs: 50,
      });
      await assert.rejects(runner.run(), (error: Error) => {
        assert.equal((error as { code?: string }).code, 'HX_ERR_PIPELINE_SOURCE');
        assert.match(error.message, new RegExp(`^rtspSource: the camera answered ${code} .*: not reconnecting$`));
        return true;
      });
      assert.equal(sink.messages.length, 1);
      assert.equal(sink.messages[0]!.properties.eventType, `Microsoft.VideoAnalyzer.Diagnostics.${event}`);
      assert.equal(sink.messages[0]!.properties.subject, '/edgeModules/avaedge/livePipelines/cam/sources/rtspSource');
      assert.equal(sink.messages[0]!.body.errorCode, code);
    }
  });

  test('reads the published stream and samples it by PTS at 2 per second', async () => {
    const sink = new CollectingSink();
    const notices: string[] = [];
    const plan = parseTopology(
      avaTopology(
        { samplingOptions: { maximumSamplesPerSecond: '2' } },
        { transport: 'udp', endpoint: viewerEndpoint('p@ss word') },
      ),
      { rtspUrl: clientUrl, inferencingUrl: server.at('/score') },
    );
    const runner = new PipelineRunner(plan, 'camera', sink, {
      realtime: true,
      retryAfterDefaultSecs: 1,
      requestTimeoutMs: 10_000,
      reconnectDelayMs: 250,
      onNotice: (m) => notices.push(m),
    });
    publisher = spawn(
      findFfmpeg(),
      ['-hide_banner', '-loglevel', 'info', '-re', '-i', STREET_MP4, '-c', 'copy', '-f', 'rtsp', publishUrl],
      { stdio: ['ignore', 'ignore', 'pipe'] },
    );
    // ffmpeg names its output once the server accepted RECORD: the path exists from then on.
    await new Promise<void>((resolve) => {
      let text = '';
      publisher!.stderr!.setEncoding('utf8').on('data', (t: string) => {
        text += t;
        if (text.includes('Output #0, rtsp')) resolve();
      });
    });
    const running = runner.run();
    const deadline = Date.now() + 60_000;
    while (sink.messages.length < 4 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 100));
    runner.stop();
    const counters = await running;

    assert.ok(sink.messages.length >= 4, `${sink.messages.length} messages; notices: ${notices.join(' | ')}`);
    assert.ok(logins.includes('viewer:p@ss word'));
    // A camera's frames on the vendor's absolute clock: timestamp / 90000 is eventTime, near now.
    const stamps = mediaTimes(sink.messages, runner.origin90k);
    for (let i = 1; i < stamps.length; i++) {
      // 2 samples per second on the 90 kHz clock, 1 ms of slack.
      assert.ok(stamps[i]! - stamps[i - 1]! >= 45_000 - 90, `timestamps ${stamps}`);
    }
    for (const m of sink.messages) assert.deepEqual(validateResponse({ inferences: m.body.inferences }), []);
    assert.equal(counters.sent + counters.dropped, counters.sampled);
    assert.ok(counters.read > counters.sampled);
  });

  test('a server that accepts and never answers is dropped after the stall timeout and retried', async () => {
    const silent = createServer((socket) => socket.on('error', () => {}));
    let connections = 0;
    silent.on('connection', () => connections++);
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    const port = (silent.address() as { port: number }).port;
    const notices: string[] = [];
    const plan = parseTopology(avaTopology(), {
      rtspUrl: `rtsp://127.0.0.1:${port}/cam`,
      inferencingUrl: server.at('/score'),
    });
    const runner = new PipelineRunner(plan, 'silent', new CollectingSink(), {
      realtime: true,
      retryAfterDefaultSecs: 1,
      requestTimeoutMs: 10_000,
      reconnectDelayMs: 50,
      stallTimeoutMs: 1000, // ffmpeg's own start-up counts too: leave it room on a busy machine
      onNotice: (m) => notices.push(m),
    });
    const running = runner.run();
    const deadline = Date.now() + 30_000;
    while (notices.length < 2 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 50));
    runner.stop();
    await running;
    silent.close();
    assert.ok(notices.length >= 2, notices.join(' | '));
    assert.equal(notices[0], 'silent: rtspSource: no video for 1000 ms; reconnecting in 50 ms');
    assert.equal(notices[1], 'silent: rtspSource: no video for 1000 ms; reconnecting in 100 ms');
    assert.ok(connections >= 1); // the stall was the silent server's, not a failed start
  });
});

describe('RTSP over TCP (RTP interleaved), as the vendor topologies read cameras', () => {
  test('ava-evr-motion-file-sink records from a TCP-only camera', async () => {
    const dir = tempDir();
    const camera = await startRtspTcpServer(STREET_MP4, dir.path);
    try {
      const sink = new CollectingSink();
      const plan = parseTopology(
        JSON.parse(readFileSync(fixturePath('topologies/ava-evr-motion-file-sink.json'), 'utf8')),
        { rtspUrl: camera.url },
      );
      assert.equal(plan.source.transport, 'tcp');
      const runner = new PipelineRunner(plan, 'tcpcam', sink, {
        realtime: true,
        retryAfterDefaultSecs: 1,
        requestTimeoutMs: 10_000,
        mediaRoot: dir.path,
      });
      const running = runner.run();
      // People walk through the street scene from the start: the gate opens; stop once a recording has begun.
      while (!sink.messages.some((m) => m.properties.eventType.endsWith('RecordingStarted'))) {
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
      runner.stop();
      const counters = await running;
      assert.equal(counters.recordings, 1);
      assert.ok(
        camera.setups.every((t) => /RTP\/AVP\/TCP/.test(t)),
        camera.setups.join(' | '),
      );
      const path = (sink.messages[0]!.body as { outputLocation: string }).outputLocation;
      const p = await probe(path);
      assert.ok(p.codec === 'h264' && p.firstKey && p.duration > 0, JSON.stringify(p));
    } finally {
      await camera.close();
      dir.remove();
    }
  });
});

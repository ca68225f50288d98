import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import mqtt from 'mqtt';
import type { PipelineRunner } from '../src/pipeline/pipeline-runner.js';
import { ProgressDisplay } from '../src/pipeline/progress.js';
import {
  fixturePath,
  freePort,
  runCli,
  STREET_MP4,
  startBroker,
  streetClip,
  type TempDir,
  tempDir,
} from './helpers/pipeline.js';
import { startTestServer, type TestServer } from './helpers/server.js';

const LVA1 = fixturePath('topologies/lva1-httpExtension.json');

describe('pipeline command', () => {
  let server: TestServer;
  let dir: TempDir;
  let clip: string;
  before(async () => {
    server = await startTestServer({ workers: 1 });
    dir = tempDir();
    clip = await streetClip(dir, 50);
  });
  after(async () => {
    await server.close();
    dir.remove();
  });

  test('several live pipelines from one list file, each with its own parameters', async () => {
    const list = dir.file('live-pipelines.json', {
      livePipelines: [
        {
          name: 'door',
          properties: {
            topologyName: 'InferencingWithHttpExtension',
            parameters: [
              { name: 'rtspUrl', value: clip },
              { name: 'inferencingUrl', value: server.at('/score') },
              { name: 'frameRate', value: '2' },
            ],
          },
        },
        {
          name: 'yard',
          properties: {
            topologyFile: LVA1,
            parameters: [
              { name: 'rtspUrl', value: clip },
              { name: 'inferencingUrl', value: server.at('/score') },
              { name: 'frameRate', value: '1' },
              { name: 'imageEncoding', value: 'jpeg' },
            ],
          },
        },
      ],
    });
    const result = await runCli(['pipeline', LVA1, '--live-pipelines', list, '--as-fast-as-possible']);
    assert.equal(result.code, 0, result.stderr);
    const count = (name: string) =>
      result.messages.filter((m) => m.properties.subject === `/graphInstances/${name}/processors/httpExtension`).length;
    // 50 frames = 5 s.
    assert.equal(count('door'), 10);
    assert.equal(count('yard'), 5);
    assert.equal(result.messages.length, 15);
    assert.match(result.stderr, /door: read 50, sent 10, dropped 0, answered 10, errors 0, published 10\n/);
    assert.match(result.stderr, /yard: read 50, sent 5, dropped 0, answered 5, errors 0, published 5\n/);
  });

  test('a list naming an unknown topology is refused', async () => {
    const list = dir.file('bad-list.json', [{ name: 'cam', properties: { topologyName: 'Nope', parameters: [] } }]);
    const result = await runCli(['pipeline', LVA1, '--live-pipelines', list]);
    assert.equal(result.code, 2);
    assert.equal(
      result.stderr,
      `httpextension: HX_ERR_PIPELINE_TOPOLOGY: ${list}: live pipeline 0 ("cam"): topology Nope not found; give its file on the command line or as properties.topologyFile\n`,
    );
  });

  test('Ctrl-C stops cleanly: requests in flight finish, totals printed, exit 0', async () => {
    let pid = 0;
    let sawMessage: () => void = () => {};
    const firstMessage = new Promise<void>((resolve) => (sawMessage = resolve));
    const child = spawn(
      process.execPath,
      [
        fileURLToPath(new URL('../src/cli/main.js', import.meta.url)),
        'pipeline',
        LVA1,
        '--set',
        `rtspUrl=${STREET_MP4}`,
        '--set',
        `inferencingUrl=${server.at('/score')}`,
      ],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    pid = child.pid!;
    let stdout = '';
    let stderr = '';
    child.stdout!.setEncoding('utf8').on('data', (t: string) => {
      stdout += t;
      sawMessage();
    });
    child.stderr!.setEncoding('utf8').on('data', (t: string) => (stderr += t));
    const exited = new Promise<number | null>((resolve) => child.on('close', resolve));
    await firstMessage; // playing at the native rate: the 40 s file is far from its end
    process.kill(pid, 'SIGINT');
    const code = await exited;
    assert.equal(code, 0, stderr);
    assert.match(stderr, /SIGINT: stopping \(waiting for requests in flight\)\n/);
    const m =
      /lva1-httpExtension: read (\d+), sent (\d+), dropped (\d+), answered (\d+), errors 0, published (\d+)\n/.exec(
        stderr,
      );
    assert.ok(m, stderr);
    assert.ok(Number(m[1]) < 400);
    // Every message line is whole JSON: the sink was flushed before exit.
    const lines = stdout.trim().split('\n');
    assert.equal(lines.length, Number(m[5]));
    for (const line of lines) JSON.parse(line);
  });

  test('exit codes scripts can trust: 1 when the extension answered nothing, 0 for a pipeline without one', async () => {
    const down = await freePort(); // nothing listens there
    // Two independent CLI runs: at once.
    const [failed, motion] = await Promise.all([
      runCli([
        'pipeline',
        fixturePath('topologies/ava-httpExtensionOpenVINO.json'),
        '--set',
        `rtspUrl=${clip}`,
        '--set',
        `inferencingUrl=http://127.0.0.1:${down}/score`,
        '--name',
        'down',
        '--as-fast-as-possible',
        '--no-progress',
      ]),
      runCli([
        'pipeline',
        fixturePath('topologies/ava-motion-detection.json'),
        '--set',
        `rtspUrl=${clip}`,
        '--as-fast-as-possible',
        '--no-progress',
      ]),
    ]);
    assert.equal(failed.code, 1, failed.stderr);
    assert.match(failed.stderr, /down: the extension answered none of (\d+) requests \(\1 failed\)\n/);
    assert.ok(failed.messages.every((m) => m.properties.eventType.endsWith('Diagnostics.ProtocolError')));
    assert.match(failed.stderr, /ECONNREFUSED/);

    assert.equal(motion.code, 0, motion.stderr);
    assert.ok(motion.messages.length > 0); // people walk in the street clip
  });

  test('progress line: frames read, sent, dropped, answered, errors and rate', () => {
    const counters = { read: 120, sampled: 24, dropped: 4, sent: 20, answered: 19, errors: 1, published: 19 };
    const runner = { name: 'cam1', counters: () => counters } as unknown as PipelineRunner;
    const progress = new ProgressDisplay([runner]);
    assert.deepEqual(progress.render(1000), ['cam1: read 120  sent 20  dropped 4  answered 19  errors 1  0.0/s']);
    counters.answered = 29;
    assert.deepEqual(progress.render(3000), ['cam1: read 120  sent 20  dropped 4  answered 29  errors 1  5.0/s']);
  });
});

describe('MQTT sink, with a real broker', () => {
  let server: TestServer;
  let broker: { url: string; stop(): void };
  let dir: TempDir;
  before(async () => {
    server = await startTestServer({ workers: 1 });
    dir = tempDir();
    broker = await startBroker(dir);
  });
  after(async () => {
    broker.stop();
    await server.close();
    dir.remove();
  });

  test('LVA 2.0 at 20 samples per second: every frame on httpextension/{pipeline}/{output}, with the vendor properties', async () => {
    const url = broker.url;
    // The broker may take a moment to listen: the client retries.
    const subscriber = await mqtt.connectAsync(url, { protocolVersion: 5, reconnectPeriod: 100, connectTimeout: 5000 });
    const received: { topic: string; body: unknown; properties: unknown }[] = [];
    subscriber.on('message', (topic, payload, packet) => {
      received.push({
        topic,
        body: JSON.parse(payload.toString('utf8')),
        properties: packet.properties?.userProperties,
      });
    });
    await subscriber.subscribeAsync('httpextension/#', { qos: 1 });
    try {
      const clip = await streetClip(dir, 20);
      const result = await runCli([
        'pipeline',
        fixturePath('topologies/lva2-httpExtension.json'),
        '--set',
        `rtspUrl=${clip}`,
        '--set',
        `inferencingUrl=${server.at('/score')}`,
        '--name',
        'mqttcam',
        '--as-fast-as-possible',
        '--mqtt-url',
        url,
      ]);
      assert.equal(result.code, 0, result.stderr);
      assert.equal(result.stdout, ''); // with a broker, stdout stays empty unless -o -
      const deadline = Date.now() + 10_000;
      while (received.length < 20 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
      // 20 frames at 10 fps, sampled at up to 20 per second: every frame. QoS 1 keeps the order.
      const stamps = received.map((m) => (m.body as { timestamp: number }).timestamp);
      assert.deepEqual(
        stamps.map((t) => t - stamps[0]!),
        Array.from({ length: 20 }, (_, i) => i * 9000),
      );
      const [message] = received;
      assert.equal(message!.topic, 'httpextension/mqttcam/inferenceOutput');
      assert.equal((message!.body as { inferences: { subtype: string }[] }).inferences[0]!.subtype, 'colorIntensity');
      const { eventTime, ...properties } = message!.properties as Record<string, string>;
      assert.deepEqual(properties, {
        topic:
          '/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/edge/providers/Microsoft.Media/mediaServices/avaedge',
        subject: '/graphInstances/mqttcam/processors/httpExtension',
        eventType: 'Microsoft.Media.Graph.Analytics.Inference',
        dataVersion: '1.0',
      });
      // The vendor's absolute clock: timestamp / 90000 is eventTime.
      assert.equal(Math.floor(stamps[0]! / 90), Date.parse(eventTime!));
    } finally {
      await subscriber.endAsync();
    }
  });
});

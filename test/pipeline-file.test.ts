import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, before, describe, test } from 'node:test';
import type { PipelineMessage } from '../src/pipeline/pipeline-message.js';
import { validateResponse } from '../src/schema/validate.js';
import { avaTopology, fixturePath, mediaTimes, runCli, streetClip, type TempDir, tempDir } from './helpers/pipeline.js';
import { startTestServer, type TestServer } from './helpers/server.js';

/**
 * The first 20 s of street.mp4 (10 fps: 200 frames, 768x576, PTS 0, 0.1 s, ...): every sampling rate below still
 * yields several evenly spaced messages, for half the decoding of the whole file.
 */
describe('file source -> our server -> JSON lines', () => {
  let server: TestServer;
  let dir: TempDir;
  let street: string;
  before(async () => {
    server = await startTestServer({ workers: 1 });
    dir = tempDir();
    street = await streetClip(dir, 200);
  });
  after(async () => {
    await server.close();
    dir.remove();
  });

  test('LVA 1.0 topology, frame-rate filter at 2 fps: 40 messages, one every 45000 ticks', async () => {
    const result = await runCli([
      'pipeline',
      fixturePath('topologies/lva1-httpExtension.json'),
      '--set',
      `rtspUrl=${street}`,
      '--set',
      `inferencingUrl=${server.at('/score')}`,
      '--name',
      'street',
      '--as-fast-as-possible',
    ]);
    assert.equal(result.code, 0, result.stderr);
    assert.equal(result.messages.length, 40);
    assert.deepEqual(
      mediaTimes(result.messages),
      Array.from({ length: 40 }, (_, i) => i * 45_000),
    );
    for (const message of result.messages) {
      const { eventTime, ...properties } = message.properties;
      assert.deepEqual(properties, {
        topic:
          '/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/edge/providers/Microsoft.Media/mediaServices/avaedge',
        subject: '/graphInstances/street/processors/httpExtension',
        eventType: 'Microsoft.Media.Graph.Analytics.Inference',
        dataVersion: '1.0',
        outputName: 'inferenceOutput',
      });
      assert.ok(!Number.isNaN(Date.parse(eventTime)));
      assert.deepEqual(Object.keys(message.body), ['timestamp', 'inferences']);
      assert.deepEqual(validateResponse({ inferences: message.body.inferences }), []);
    }
    // The whole frame is dark-ish street: every answer is a colorIntensity classification.
    const first = result.messages[0]!.body.inferences as { subtype: string }[];
    assert.equal(first[0]!.subtype, 'colorIntensity');
    assert.match(result.stderr, /street: read 200, sent 40, dropped 0, answered 40, errors 0, published 40\n/);
  });

  test('AVA 1.1 topology at 0.2 samples per second, messages to a file: 4 messages', async () => {
    const out = `${dir.path}/messages.jsonl`;
    const result = await runCli([
      'pipeline',
      fixturePath('topologies/ava-httpExtension.json'),
      '--set',
      `rtspUrl=file://${street}`,
      '--set',
      `inferencingUrl=${server.at('/score')}`,
      '--as-fast-as-possible',
      '-o',
      out,
    ]);
    assert.equal(result.code, 0, result.stderr);
    assert.equal(result.stdout, '');
    const messages = readFileSync(out, 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as PipelineMessage);
    assert.deepEqual(
      mediaTimes(messages),
      [0, 1, 2, 3].map((i) => i * 450_000),
    );
    assert.equal(
      messages[0]!.properties.subject,
      '/edgeModules/avaedge/livePipelines/ava-httpExtension/processors/httpExtension',
    );
    assert.equal(messages[0]!.properties.eventType, 'Microsoft.VideoAnalyzer.Analytics.Inference');
  });

  test('native rate: every sampled frame is sent or dropped, every answer published', async () => {
    const clip = await streetClip(dir, 20);
    const topology = dir.file('native.json', avaTopology({ samplingOptions: { maximumSamplesPerSecond: '2' } }));
    const result = await runCli([
      'pipeline',
      topology,
      '--set',
      `rtspUrl=${clip}`,
      '--set',
      `inferencingUrl=${server.at('/score')}`,
    ]);
    assert.equal(result.code, 0, result.stderr);
    const m = /read (\d+), sent (\d+), dropped (\d+), answered (\d+), errors (\d+), published (\d+)/.exec(
      result.stderr,
    );
    assert.ok(m, result.stderr);
    const [read, sent, dropped, answered, errors, published] = m.slice(1).map(Number) as number[];
    assert.equal(read, 20);
    assert.equal(sent! + dropped!, 4); // 2 s at 2 samples per second
    assert.equal(answered, sent);
    assert.equal(errors, 0);
    assert.equal(published, result.messages.length);
    assert.equal(published, answered);
  });

  test('a missing file is refused before anything starts', async () => {
    const result = await runCli([
      'pipeline',
      fixturePath('topologies/lva2-httpExtension.json'),
      '--set',
      'rtspUrl=/no/such/video.mp4',
    ]);
    assert.equal(result.code, 2);
    assert.equal(
      result.stderr,
      'httpextension: HX_ERR_PIPELINE_SOURCE: rtspSource: no such video file: /no/such/video.mp4\n',
    );
  });
});

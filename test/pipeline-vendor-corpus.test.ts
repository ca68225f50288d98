import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { VideoIndex } from '../src/pipeline/nodes/video-sink.js';
import type { PipelineMessage } from '../src/pipeline/pipeline-message.js';
import { parseTopology } from '../src/pipeline/topology.js';
import { validateResponse } from '../src/schema/validate.js';
import { type CliServer, SCORE_ONLY, startCli } from './helpers/cli.js';
import {
  fixturePath,
  freePort,
  json,
  mediaTimes,
  runCli,
  runInProcess,
  startDouble,
  streetClip,
  type TempDir,
  type TestDouble,
  tempDir,
} from './helpers/pipeline.js';
import { probe } from './helpers/videos.js';

/**
 * Every vendor topology in test/fixtures/topologies (all but the Cognitive Services ones), unchanged but for where its
 * extension points (an HTTP double that detects a person in every frame; our server's gRPC front end) and where it
 * records (--media-root), on the first 2 s of the street video. Each one must analyse (answers published), record (each recording sink: started,
 * available, stopped, and a playable MP4) or both, as its nodes say.
 */
interface Expected {
  /** Analytics.Inference messages are published (motion or extension answers through a hub sink). */
  analytics: boolean;
  /** The recording sinks, by name. */
  recorders: string[];
}

const CORPUS: Record<string, Expected> = {
  'ava-audio-video': { analytics: false, recorders: ['videoSink'] },
  'ava-cvr-video-sink': { analytics: false, recorders: ['videoSink'] },
  'ava-cvr-with-httpExtension': { analytics: true, recorders: ['videoSink'] },
  'ava-cvr-with-motion': { analytics: true, recorders: ['videoSink'] },
  'ava-evr-httpExtension-video-sink': { analytics: true, recorders: ['videoSink'] },
  'ava-evr-hubMessage-file-sink': { analytics: false, recorders: ['fileSink'] },
  'ava-evr-hubMessage-video-sink': { analytics: true, recorders: ['videoSink'] },
  'ava-evr-motion-file-sink': { analytics: false, recorders: ['fileSink'] },
  'ava-evr-motion-video-sink-file-sink': { analytics: false, recorders: ['fileSink', 'videoSink'] },
  'ava-evr-motion-video-sink': { analytics: true, recorders: ['videoSink'] },
  'ava-httpExtension': { analytics: true, recorders: [] },
  'ava-httpExtensionOpenVINO': { analytics: true, recorders: [] },
  'ava-motion-detection': { analytics: true, recorders: [] },
  'ava-motion-with-httpExtension': { analytics: true, recorders: ['videoSink'] },
  'lva1-httpExtension': { analytics: true, recorders: [] },
  'lva2-evr-httpExtension-assets': { analytics: true, recorders: ['assetSink'] },
  'lva2-httpExtension': { analytics: true, recorders: [] },
  'ava-object-tracking': { analytics: true, recorders: [] },
  // The double's person stands still, so nobody crosses the line: nothing to publish (crossings: pipeline-tracking).
  'ava-line-crossing': { analytics: false, recorders: [] },
  'ava-cvr-with-httpExtension-and-objectTracking': { analytics: true, recorders: ['videoSink'] },
  // Against our server's gRPC front end (colorIntensity answers every frame), BGR24 or JPEG through shared memory.
  'ava-ai-composition': { analytics: true, recorders: ['videoSink'] },
  'ava-cvr-with-grpcExtension': { analytics: true, recorders: ['videoSink'] },
  'ava-deepstream-grpcExtension': { analytics: true, recorders: [] },
  'ava-evr-grpcExtension-video-sink': { analytics: true, recorders: ['videoSink'] },
  'ava-grpcExtensionOpenVINO': { analytics: true, recorders: [] },
  'ava-motion-with-grpcExtension': { analytics: true, recorders: ['videoSink'] },
  'lva2-grpcExtension': { analytics: true, recorders: ['assetSink'] },
};

const PERSON = {
  inferences: [
    {
      type: 'entity',
      entity: { tag: { value: 'person', confidence: 0.9 }, box: { l: 0.1, t: 0.2, w: 0.1, h: 0.3 } },
    },
  ],
};

interface RawTopology {
  properties: { parameters?: { name: string }[]; processors?: Record<string, unknown>[] };
}

function load(name: string, extensionUrl: string): RawTopology {
  const topology = JSON.parse(readFileSync(fixturePath(`topologies/${name}.json`), 'utf8')) as RawTopology;
  // Some samples name their extension's URL by a parameter of their own (httpAIServerAddress): point it at ours.
  for (const node of topology.properties.processors ?? []) {
    if (String(node['@type']).endsWith('HttpExtension')) (node.endpoint as { url: string }).url = extensionUrl;
  }
  return topology;
}

describe('the vendor corpus on the street video', { concurrency: 3 }, () => {
  let dir: TempDir;
  let clip: string;
  let double: TestDouble;
  let grpcServer: CliServer;
  let grpcAddress: string;
  before(async () => {
    dir = tempDir();
    clip = await streetClip(dir, 20);
    double = await startDouble((_r, _i, res) => json(res, 200, PERSON));
    const port = await freePort();
    grpcServer = await startCli([...SCORE_ONLY, '--workers', '1', '--grpc-port', String(port)]);
    grpcAddress = `tcp://127.0.0.1:${port}`;
  });
  after(async () => {
    await grpcServer?.stop();
    await double.close();
    dir.remove();
  });

  for (const [name, expected] of Object.entries(CORPUS)) {
    test(name, async () => {
      const topology = load(name, double.url);
      const declared = new Set((topology.properties.parameters ?? []).map((p) => p.name));
      const values = Object.fromEntries(
        Object.entries({
          rtspUrl: clip,
          // Two samples declare the camera's credentials without defaults (a file source does not use them).
          rtspUserName: 'camera',
          rtspPassword: 'unused',
          hubSourceInput: 'trigger',
          grpcExtensionAddress: grpcAddress,
          grpcExtensionAddressSource: grpcAddress,
        }).filter(([k]) => declared.has(k)),
      );
      const plan = parseTopology(topology, values);
      const media = join(dir.path, name);
      const { messages, counters, origin90k } = await runInProcess(topology, values, {
        mediaRoot: media,
        // Another module's message, as soon as the pipeline reads its hub input (a real broker: pipeline-recording).
        hubInput: {
          subscribe: async (_pipeline, _input, onMessage) => {
            setImmediate(() => onMessage({ door: 'open' }));
            return async () => {};
          },
        },
      });
      if (plan.extensions.length > 0) assert.ok(counters.answered > 0, JSON.stringify(counters));
      const analytics = messages.filter((m) => m.properties.eventType.endsWith('Analytics.Inference'));
      assert.equal(analytics.length > 0, expected.analytics, `${analytics.length} analytics messages`);
      const times = mediaTimes(analytics, origin90k);
      for (const [i, m] of analytics.entries()) {
        assert.deepEqual(validateResponse({ inferences: m.body.inferences }), []);
        assert.ok(times[i]! >= 0 && times[i]! < 2 * 90_000, `media time ${times[i]}`);
      }
      for (const sink of expected.recorders) {
        const events = messages.filter((m) => m.properties.subject.endsWith(`/sinks/${sink}`));
        assert.deepEqual(
          events.map((m) => m.properties.eventType.replace(/^.*\./, '')),
          ['RecordingStarted', 'RecordingAvailable', 'RecordingStopped'],
          `${sink}: ${JSON.stringify(events)}`,
        );
        const { outputType, outputLocation } = events[0]!.body as { outputType: string; outputLocation: string };
        const spec = plan.nodes.find((n) => n.name === sink)!;
        let file = outputLocation;
        if (outputType !== 'filePath' && (spec.type === 'VideoSink' || spec.type === 'AssetSink')) {
          // A video or asset: its folder in the media store, the first segment its index lists.
          const folder = join(media, spec.video.localMediaCachePath, outputLocation);
          const index = JSON.parse(readFileSync(join(folder, 'index.json'), 'utf8')) as VideoIndex;
          file = join(folder, index.segments[0]!.file);
        }
        const p = await probe(file);
        assert.ok(
          p.codec === 'h264' && p.firstKey && p.duration > 0 && p.duration <= 2.1,
          `${file}: ${JSON.stringify(p)}`,
        );
      }
      assert.equal(counters.recordings ?? 0, expected.recorders.length);
    });
  }

  test('the CLI names the edge module in AVA subjects (--module-name)', async () => {
    const topology = dir.file('motion.json', load('ava-motion-detection', double.url));
    const result = await runCli([
      'pipeline',
      topology,
      '--set',
      `rtspUrl=${clip}`,
      '--name',
      'door',
      '--as-fast-as-possible',
      '--module-name',
      'edge-7',
      '--event-topic',
      '/subscriptions/s/resourceGroups/g/providers/Microsoft.Media/videoAnalyzers/a',
    ]);
    assert.equal(result.code, 0, result.stderr);
    assert.ok(result.messages.length > 0);
    for (const m of result.messages as PipelineMessage[]) {
      assert.equal(m.properties.subject, '/edgeModules/edge-7/livePipelines/door/processors/motionDetection');
      assert.equal(m.properties.topic, '/subscriptions/s/resourceGroups/g/providers/Microsoft.Media/videoAnalyzers/a');
    }
    mediaTimes(result.messages);
  });
});

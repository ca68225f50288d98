import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { PipelineMessage } from '../src/pipeline/pipeline-message.js';
import { assertValidInferences } from './helpers/http.js';
import { fixturePath, runInProcess, streetClip, type TempDir, tempDir } from './helpers/pipeline.js';
import { startTestServer, type TestServer } from './helpers/server.js';

/**
 * The vendor's three tracking topologies on the first 3 s of the street video (10 fps, 30 frames), with the real
 * server's /detect (CenterNet) as the extension at the topologies' 2 samples a second.
 */

function vendor(name: string): { properties: { sinks: { name: string }[] } } {
  return JSON.parse(readFileSync(fixturePath(`topologies/${name}.json`), 'utf8')) as {
    properties: { sinks: { name: string }[] };
  };
}

const CAMERA = { rtspUserName: 'camera', rtspPassword: 'secret' };
const FRAMES = 30;
const FRAME_TICKS = 9000;

interface Tracked {
  sequenceId: string;
  inferenceId: string;
  entity: { id: string; tag: { value: string } };
}

function tracked(messages: readonly PipelineMessage[]): Tracked[][] {
  return messages.map((m) => m.body.inferences as Tracked[]);
}

describe('tracking topologies on the street video with /detect', () => {
  let dir: TempDir;
  let server: TestServer;
  let clip: string;
  before(async () => {
    dir = tempDir();
    clip = await streetClip(dir, FRAMES);
    server = await startTestServer({ workers: 1, routes: [{ path: '/detect', processor: 'objectDetection' }] });
  });
  after(async () => {
    await server.close();
    dir.remove();
  });

  test('ava-object-tracking: people tracked on every frame, one id per person across frames', async () => {
    const { messages, counters, origin90k } = await runInProcess(vendor('ava-object-tracking'), {
      ...CAMERA,
      rtspUrl: clip,
      inferenceUrl: server.at('/detect'),
    });
    assert.equal(counters.read, FRAMES);
    assert.equal(counters.answered, FRAMES / 5);
    // One message per frame from the first answer on (street people never all leave within 3 s), on the absolute clock.
    assert.deepEqual(
      messages.map((m) => m.body.timestamp),
      Array.from({ length: FRAMES }, (_, i) => origin90k + i * FRAME_TICKS),
    );
    for (const m of messages) {
      assertValidInferences(m.body);
      assert.equal(m.properties.subject, '/edgeModules/avaedge/livePipelines/test/processors/objectTracker');
      assert.equal(m.properties.outputName, 'iothubsinkoutput');
    }
    const frames = tracked(messages);
    // People keep their ids while the detector keeps seeing them: in these 3 s three people are followed for 2 s or
    // more each (the detector loses two of them behind each other after 2 s), and few ids are given in all.
    const lengths = new Map<string, number>();
    for (const t of frames.flat()) lengths.set(t.sequenceId, (lengths.get(t.sequenceId) ?? 0) + 1);
    const long = [...lengths.values()].filter((n) => n >= 20).length;
    assert.ok(long >= 3 && lengths.size <= 6, `track lengths in frames: ${[...lengths.values()].join(', ')}`);
  });

  test('ava-line-crossing: the man walking left on the right crosses x = 0.7 once, clockwise', async () => {
    const { messages } = await runInProcess(vendor('ava-line-crossing'), {
      ...CAMERA,
      rtspUrl: clip,
      inferenceUrl: server.at('/detect'),
      // Top to bottom at x = 0.7: in these 3 s only the man on the right (centre x 0.86 -> 0.6) walks across it.
      lineCoordinates: '[[0.7,0.1],[0.7,0.9]]',
    });
    let clockwise = 0;
    let counterclockwise = 0;
    for (const m of messages) {
      assertValidInferences(m.body);
      assert.equal(m.properties.subject, '/edgeModules/avaedge/livePipelines/test/processors/lineCrossing');
      for (const e of m.body.inferences as { event: { name: string; properties: Record<string, string> } }[]) {
        assert.equal(e.event.name, 'LineCrossing1');
        if (e.event.properties.direction === 'clockwise') clockwise++;
        else counterclockwise++;
        assert.deepEqual(e.event.properties, {
          direction: e.event.properties.direction,
          clockwiseTotal: String(clockwise),
          counterclockwiseTotal: String(counterclockwise),
          total: String(clockwise + counterclockwise),
        });
      }
    }
    assert.deepEqual({ clockwise, counterclockwise }, { clockwise: 1, counterclockwise: 0 });
  });

  test('ava-cvr-with-httpExtension-and-objectTracking: runs unchanged, recording and tracking', async () => {
    const media = join(dir.path, 'media');
    const { messages } = await runInProcess(
      vendor('ava-cvr-with-httpExtension-and-objectTracking'),
      { rtspUrl: clip, inferencingUrl: server.at('/detect') },
      { mediaRoot: media },
    );
    const tracked = messages.filter((m) => m.properties.outputName === 'inferenceOutput');
    assert.equal(tracked.length, FRAMES);
    for (const m of tracked) assertValidInferences(m.body);
    const recording = messages.filter((m) =>
      String(m.properties.eventType).startsWith('Microsoft.VideoAnalyzer.Operational'),
    );
    assert.deepEqual(
      recording.map((m) => String(m.properties.eventType).split('.').at(-1)),
      ['RecordingStarted', 'RecordingAvailable', 'RecordingStopped'],
    );
  });
});

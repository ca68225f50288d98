import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { PipelineMessage } from '../src/pipeline/pipeline-message.js';
import { assertValidInferences } from './helpers/http.js';
import { type Labelled, motScores } from './helpers/mot-metrics.js';
import { fixturePath, runInProcess, type TempDir, tempDir } from './helpers/pipeline.js';
import { doubleUrl, startTestServer, type TestServer } from './helpers/server.js';
import { FRAMES, SCENE, truth, truthCrossings, writeSceneVideo } from './helpers/tracking-scene.js';

/**
 * ObjectTrackingProcessor and LineCrossingProcessor on the generated scene (test/helpers/tracking-scene.ts), through
 * the vendor's topologies unchanged, with the colour-box detector double behind the real server as the extension.
 * The topologies sample 2 frames a second of the 10 fps video: the tracker fills in the other four of every five.
 */

function vendor(name: string): object {
  return JSON.parse(readFileSync(fixturePath(`topologies/${name}.json`), 'utf8')) as object;
}

/** A whole box of the scene in the 416x416 padded image the topologies send: 40 px * 1.3, squared. */
const FULL_PIXELS = 52 * 52;
const FRAME_TICKS = 90_000 / SCENE.fps;
/** The topologies declare camera credentials without defaults; a file source ignores them. */
const CAMERA = { rtspUserName: 'camera', rtspPassword: 'secret' };

interface Entity {
  type: string;
  inferenceId: string;
  sequenceId: string;
  entity: { id: string; tag: { value: string; confidence: number }; box: Labelled['box'] };
}

/** The tracker's boxes per frame, labelled by sequenceId. */
/** The tracker's boxes per frame; timestamps are on the absolute clock, from `origin90k`. */
function hypotheses(messages: readonly PipelineMessage[], origin90k: number): Labelled[][] {
  const frames: Labelled[][] = Array.from({ length: FRAMES }, () => []);
  for (const m of messages) {
    const f = Math.round((Number(m.body.timestamp) - origin90k) / FRAME_TICKS);
    for (const i of m.body.inferences as Entity[]) frames[f]!.push({ id: i.sequenceId, box: i.entity.box });
  }
  return frames;
}

describe('object tracking and line crossing on a generated scene', () => {
  let dir: TempDir;
  let server: TestServer;
  let video: string;
  let inferenceUrl: string;
  before(async () => {
    dir = tempDir();
    video = join(dir.path, 'scene.mp4');
    await writeSceneVideo(video);
    server = await startTestServer({
      workers: 1,
      routes: [{ path: '/boxes', processor: doubleUrl('colour-boxes'), options: {} }],
    });
    inferenceUrl = server.at(`/boxes?fullPixels=${FULL_PIXELS}`);
  });
  after(async () => {
    await server.close();
    dir.remove();
  });

  test('the scene crosses its line 3 times clockwise and 2 counterclockwise (counted from its paths)', () => {
    assert.deepEqual(truthCrossings(), SCENE.crossings);
  });

  test('ava-line-crossing: exactly the crossings of the scene, one event each, with running totals', async () => {
    const { messages, counters } = await runInProcess(vendor('ava-line-crossing'), {
      ...CAMERA,
      rtspUrl: video,
      inferenceUrl,
    });
    assert.equal(counters.read, FRAMES);
    assert.equal(counters.answered, FRAMES / 5);
    const events = messages.flatMap((m) => {
      assertValidInferences(m.body);
      assert.equal(m.properties.subject, '/edgeModules/avaedge/livePipelines/test/processors/lineCrossing');
      assert.equal(m.properties.eventType, 'Microsoft.VideoAnalyzer.Analytics.Inference');
      assert.equal(m.properties.outputName, 'iothubsinkoutput');
      return m.body.inferences as {
        subtype: string;
        relatedInferences: string[];
        event: { name: string; properties: Record<string, string> };
      }[];
    });
    assert.deepEqual(
      events.map((e) => e.event.properties),
      // By time: red and green rightwards/leftwards near 4.2 and 4.7 s, green back 10.3, red 11.7, blue 12.1.
      [
        { direction: 'counterclockwise', clockwiseTotal: '0', counterclockwiseTotal: '1', total: '1' },
        { direction: 'clockwise', clockwiseTotal: '1', counterclockwiseTotal: '1', total: '2' },
        { direction: 'counterclockwise', clockwiseTotal: '1', counterclockwiseTotal: '2', total: '3' },
        { direction: 'clockwise', clockwiseTotal: '2', counterclockwiseTotal: '2', total: '4' },
        { direction: 'clockwise', clockwiseTotal: '3', counterclockwiseTotal: '2', total: '5' },
      ],
    );
    for (const e of events) {
      assert.equal(e.subtype, 'lineCrossing');
      assert.equal(e.event.name, 'LineCrossing1');
      assert.equal(e.relatedInferences.length, 1);
    }
  });

  test('ava-object-tracking: boxes on every frame, stable ids through passing and stopping (MOTA, IDF1)', async () => {
    const { messages, counters, origin90k } = await runInProcess(vendor('ava-object-tracking'), {
      ...CAMERA,
      rtspUrl: video,
      inferenceUrl,
    });
    assert.equal(counters.answered, FRAMES / 5);
    for (const m of messages) {
      assertValidInferences(m.body);
      assert.equal(m.properties.subject, '/edgeModules/avaedge/livePipelines/test/processors/objectTracker');
      for (const i of m.body.inferences as Entity[]) {
        assert.equal(i.type, 'entity');
        assert.match(i.sequenceId, /^[0-9a-f]{32}$/);
        assert.match(i.inferenceId, /^[0-9a-f]{32}$/);
        assert.equal(i.entity.tag.value, 'car');
      }
    }
    // Frames the extension never saw carry tracked boxes: far more messages than answers.
    assert.ok(messages.length > FRAMES * 0.9, `${messages.length} messages for ${FRAMES} frames`);
    const ids = new Map<string, string>();
    for (const m of messages) for (const i of m.body.inferences as Entity[]) ids.set(i.sequenceId, i.entity.id);
    // entity.id and sequenceId name the same track; ids are never given twice.
    assert.equal(new Set(ids.values()).size, ids.size);
    const scores = motScores(
      Array.from({ length: FRAMES }, (_, f) => truth(f).map((t) => ({ id: t.id, box: t.box }))),
      hypotheses(messages, origin90k),
    );
    // Blue leaves for 2.6 s and comes back: a new track (the tracker has no appearance model), the one switch.
    assert.equal(scores.trackIds, 4, JSON.stringify(scores));
    assert.equal(scores.idSwitches, 1, JSON.stringify(scores));
    assert.ok(scores.mota >= 0.9, JSON.stringify(scores));
    assert.ok(scores.idf1 >= 0.85, JSON.stringify(scores));
  });
});

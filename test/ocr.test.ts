import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { detectTextBoxes } from '../src/processors/ocr/text-detection.js';
import { ctcDecode, languageOf } from '../src/processors/ocr/text-recognition.js';
import type { Inference, Rectangle } from '../src/schema/inference.js';
import { fixture, post } from './helpers/http.js';
import { startTestServer, type TestServer } from './helpers/server.js';

/** The signs drawn by scripts/make-ocr-fixture.ts, with where their text lies (normalised, by construction). */
const SIGNS: ReadonlyArray<{ text: string; box: Rectangle }> = [
  { text: 'FIRE EXIT', box: { l: 75 / 416, t: 268 / 416, w: 150 / 416, h: 26 / 416 } },
  { text: 'Platform 12', box: { l: 237 / 416, t: 330 / 416, w: 116 / 416, h: 20 / 416 } },
];

describe('ocr (PaddleOCR v4 on ONNX Runtime)', () => {
  let server: TestServer;
  before(async () => {
    server = await startTestServer({ workers: 1, routes: [{ path: '/ocr', processor: 'ocr' }] });
  });
  after(() => server.close());

  it('reads each sign: an entity with its box and a text tied to it', async () => {
    const answer = await post(server.at('/ocr'), fixture('frames/signs_416.jpg'));
    assert.equal(answer.status, 200, answer.text);
    const inferences = (answer.json as { inferences: Inference[] }).inferences;
    const texts = inferences.filter((i): i is Extract<Inference, { type: 'text' }> => i.type === 'text');
    const regions = inferences.filter((i): i is Extract<Inference, { type: 'entity' }> => i.type === 'entity');
    assert.deepEqual(
      texts.map((t) => [t.text.value, t.text.language]),
      SIGNS.map((s) => [s.text, 'en']),
    );
    assert.equal(regions.length, SIGNS.length);
    for (const [index, sign] of SIGNS.entries()) {
      const text = texts[index]!;
      assert.equal(text.relatedInferences?.length, 1);
      const region = regions.find((r) => r.inferenceId === text.relatedInferences![0]);
      assert.ok(region, `text ${text.text.value} points to a region`);
      assert.equal(region.entity.tag.value, 'text');
      // The detected box holds the text's glyphs, with the unclip margin around them.
      const b = region.entity.box;
      const tolerance = 0.03;
      assert.ok(
        Math.abs(b.l - sign.box.l) <= tolerance &&
          Math.abs(b.t - sign.box.t) <= tolerance &&
          Math.abs(b.l + b.w - (sign.box.l + sign.box.w)) <= tolerance &&
          Math.abs(b.t + b.h - (sign.box.t + sign.box.h)) <= tolerance,
        `${sign.text}: box ${JSON.stringify(b)} is not near ${JSON.stringify(sign.box)}`,
      );
    }
  });

  it('answers 204 for a frame without legible text', async () => {
    assert.equal((await post(server.at('/ocr'), fixture('frames/street100_768x576.jpg'))).status, 204);
  });

  it('filters drop a region and the text read inside it', async () => {
    assert.equal((await post(server.at('/ocr?object=person'), fixture('frames/signs_416.jpg'))).status, 204);
  });
});

describe('ocr decoding', () => {
  it('CTC: best class per step, repeats collapse, blanks separate, class k is dictionary[k - 1]', () => {
    const dictionary = ['a', 'b', ' '];
    // Steps: a a blank a b b -> "aab"
    const best = [1, 1, 0, 1, 2, 2];
    const probabilities = new Float32Array(best.length * 4);
    best.forEach((c, t) => {
      probabilities.fill(0.1, t * 4, t * 4 + 4);
      probabilities[t * 4 + c] = 0.7;
    });
    const read = ctcDecode(probabilities, best.length, 4, dictionary);
    assert.equal(read.text, 'aab');
    assert.ok(Math.abs(read.confidence - 0.7) < 1e-6);
  });

  it('language: zh for Chinese script, en for Latin, und otherwise', () => {
    assert.equal(languageOf('出口 EXIT'), 'zh');
    assert.equal(languageOf('EXIT 12'), 'en');
    assert.equal(languageOf('12:30'), 'und');
  });

  it('DB post-processing: regions above the threshold, scored, grown by the unclip distance', () => {
    const width = 20;
    const map = new Float32Array(width * 10);
    for (let y = 2; y < 6; y++) for (let x = 4; x < 16; x++) map[y * width + x] = 0.9;
    map[9 * width + 19] = 0.9; // one pixel: thinner than minSide
    const boxes = detectTextBoxes(map, width, 10, {
      pixelThreshold: 0.3,
      boxThreshold: 0.6,
      unclipRatio: 1.5,
      minSide: 3,
    });
    // 12x4 region: grow = 12*4*1.5 / (2*16) = 2.25 on every side, clamped to the map.
    assert.deepEqual(boxes, [{ x1: 1.75, y1: 0, x2: 18.25, y2: 8.25, score: Math.fround(0.9) }]);
  });
});

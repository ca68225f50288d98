import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import sharp from 'sharp';
import { request } from 'undici';
import { processorOptions } from '../src/processors/options.js';
import type { Inference, Rectangle } from '../src/schema/inference.js';
import { COCO_LABELS } from '../src/vision/coco-labels.js';
import { agent, assertError, fixture, post } from './helpers/http.js';
import { startTestServer, type TestServer } from './helpers/server.js';

/** What objectDetection answered on TensorFlow.js (scripts/make-detection-fixture.ts), per test frame. */
const TFJS_ANSWERS = JSON.parse(
  readFileSync(new URL('../../test/fixtures/object-detection/tfjs-answers.json', import.meta.url), 'utf8'),
) as { frames: Record<string, Array<{ label: string; confidence: number; box: Rectangle }>> };
/** "Boxes within a pixel or two" of the received image; "confidences within a few hundredths". */
const BOX_PX = 2;
const CONFIDENCE = 0.03;
/** objectDetection's default minConfidence. */
const MIN_CONFIDENCE = 0.3;

/**
 * Pedestrians of street100_768x576.jpg (OpenCV vtest.avi, frame 100), centres normalised to that image, read off
 * the picture by eye: right man, woman in black, man in jeans, the couple (two), the walker top left.
 */
const PEDESTRIANS_768: ReadonlyArray<[number, number]> = [
  [0.785, 0.335],
  [0.472, 0.41],
  [0.513, 0.378],
  [0.66, 0.32],
  [0.686, 0.325],
  [0.3, 0.135],
];
const TOLERANCE = 0.03;

/** street100_416.jpg is the same frame fitted into 416x416: 416x312 with 52-pixel bars above and below. */
function to416([x, y]: [number, number]): [number, number] {
  return [x, (52 + y * 312) / 416];
}

function centre(box: Rectangle): [number, number] {
  return [box.l + box.w / 2, box.t + box.h / 2];
}

function entities(json: unknown): Array<Extract<Inference, { type: 'entity' }>> {
  const inferences = (json as { inferences: Inference[] }).inferences;
  return inferences.filter((i): i is Extract<Inference, { type: 'entity' }> => i.type === 'entity');
}

function assertFindsPedestrians(json: unknown, expected: ReadonlyArray<[number, number]>): void {
  const people = entities(json).filter((e) => e.entity.tag.value === 'person');
  for (const [x, y] of expected) {
    const match = people.find((p) => {
      const [cx, cy] = centre(p.entity.box);
      return Math.abs(cx - x) <= TOLERANCE && Math.abs(cy - y) <= TOLERANCE;
    });
    assert.ok(match, `no person centred near (${x}, ${y}); found ${JSON.stringify(people.map((p) => p.entity.box))}`);
  }
}

describe('objectDetection (CenterNet COCO-80)', () => {
  let server: TestServer;
  before(async () => {
    server = await startTestServer({
      workers: 1,
      routes: [
        { path: '/detect', processor: 'objectDetection' },
        { path: '/annotate', processor: 'objectDetection', annotate: true },
        {
          path: '/detect-cpu',
          processor: 'objectDetection',
          options: { executionProviders: ['cpu'], threads: 2 },
        },
      ],
    });
  });
  after(() => server.close());

  it('answers on every test frame what the TensorFlow.js detector answered', async () => {
    for (const [name, expected] of Object.entries(TFJS_ANSWERS.frames)) {
      const body = fixture(`frames/${name}`);
      const { width, height } = await sharp(body).metadata();
      const answer = await post(server.at('/detect'), body);
      assert.ok(answer.status === 200 || answer.status === 204, `${name}: ${answer.status}`);
      const found = answer.status === 204 ? [] : entities(answer.json);
      const px = (box: Rectangle) => [box.l * width!, box.t * height!, box.w * width!, box.h * height!];
      const left = [...found];
      const missing: typeof expected = [];
      for (const e of expected) {
        const i = left.findIndex(
          (f) =>
            f.entity.tag.value === e.label &&
            Math.abs((f.entity.tag.confidence ?? 0) - e.confidence) <= CONFIDENCE &&
            px(f.entity.box).every((v, k) => Math.abs(v - px(e.box)[k]!) <= BOX_PX),
        );
        if (i >= 0) left.splice(i, 1);
        else missing.push(e);
      }
      // A score within the confidence tolerance of the threshold may land on either side of it: the JPEG decoder
      // (the libjpeg-turbo binding or sharp's fallback) moves scores by up to a hundredth. Every other one must match.
      const clear = (confidence: number) => confidence >= MIN_CONFIDENCE + CONFIDENCE;
      assert.deepEqual(
        missing.filter((e) => clear(e.confidence)),
        [],
        `${name}: not found; answered ${JSON.stringify(found.map((f) => f.entity))}`,
      );
      assert.deepEqual(
        left.filter((f) => clear(f.entity.tag.confidence ?? 0)).map((f) => f.entity),
        [],
        `${name}: not in the TF.js answer`,
      );
    }
  });

  it('runs with executionProviders and threads set per route (CPU, two intra-op threads): the same answer', async () => {
    const body = fixture('frames/street100_768x576.jpg');
    const cpu = await post(server.at('/detect-cpu'), body);
    const byDefault = await post(server.at('/detect'), body);
    assert.equal(cpu.status, 200);
    assert.deepEqual(cpu.json, byDefault.json);
  });

  it('finds the pedestrians of the 768x576 street frame where they are', async () => {
    const answer = await post(server.at('/detect'), fixture('frames/street100_768x576.jpg'), {
      'content-type': 'image/jpeg',
    });
    assert.equal(answer.status, 200, answer.text);
    assertFindsPedestrians(answer.json, PEDESTRIANS_768);
    for (const e of entities(answer.json)) {
      assert.equal(e.subtype, 'objectDetection');
      assert.ok(COCO_LABELS.includes(e.entity.tag.value), e.entity.tag.value);
      const { l, t, w, h } = e.entity.box;
      assert.ok(l + w <= 1 && t + h <= 1, JSON.stringify(e.entity.box));
    }
  });

  it('normalises boxes to the received letterboxed 416x416 frame, bars included', async () => {
    const answer = await post(server.at('/detect'), fixture('frames/street100_416.jpg'));
    assert.equal(answer.status, 200, answer.text);
    assertFindsPedestrians(answer.json, PEDESTRIANS_768.map(to416));
    for (const e of entities(answer.json)) {
      assert.ok(e.entity.box.t >= 52 / 416 - 0.01 && e.entity.box.t + e.entity.box.h <= 364 / 416 + 0.01);
    }
  });

  it('answers 204 for a frame with nothing in it', async () => {
    const grey = await sharp({ create: { width: 320, height: 240, channels: 3, background: '#808080' } })
      .png()
      .toBuffer();
    const answer = await post(server.at('/detect'), grey);
    assert.equal(answer.status, 204);
  });

  it('filters by ?object= alone, by ?confidence= alone, and by both', async () => {
    const body = fixture('frames/street100_768x576.jpg');
    const all = entities((await post(server.at('/detect'), body)).json);
    assert.ok(
      all.some((e) => e.entity.tag.value !== 'person'),
      'the frame also has cars/trucks',
    );

    const people = entities((await post(server.at('/detect?object=Person'), body)).json);
    assert.deepEqual(
      people,
      all.filter((e) => e.entity.tag.value === 'person'),
    );

    const confident = entities((await post(server.at('/detect?confidence=0.5'), body)).json);
    assert.ok(confident.length > 0 && confident.length < all.length);
    assert.deepEqual(
      confident,
      all.filter((e) => (e.entity.tag.confidence ?? 0) >= 0.5),
    );

    const both = await post(server.at('/detect?object=car,truck&confidence=0.99'), body);
    assert.equal(both.status, 204, 'nothing passes both filters');
  });

  it('rejects a malformed filter with 400 HX_ERR_HTTP_BAD_QUERY', async () => {
    const body = fixture('frames/street100_416.jpg');
    assertError(await post(server.at('/detect?confidence=high'), body), 400, 'HX_ERR_HTTP_BAD_QUERY');
    assertError(await post(server.at('/detect?confidence=1.5'), body), 400, 'HX_ERR_HTTP_BAD_QUERY');
    assertError(await post(server.at('/detect?object=,'), body), 400, 'HX_ERR_HTTP_BAD_QUERY');
  });

  it('draws the boxes: /annotate and Accept: image/jpeg answer the annotated JPEG', async () => {
    const body = fixture('frames/street100_768x576.jpg');
    const json = entities((await post(server.at('/detect?object=person'), body)).json);
    for (const [url, headers] of [
      [server.at('/annotate?object=person'), {}],
      [server.at('/detect?object=person'), { accept: 'image/jpeg, application/json;q=0.5' }],
    ] as const) {
      const response = await request(url, { method: 'POST', body, headers, dispatcher: agent });
      assert.equal(response.statusCode, 200);
      assert.equal(response.headers['content-type'], 'image/jpeg');
      const jpeg = Buffer.from(await response.body.arrayBuffer());
      const { data, info } = await sharp(jpeg).raw().toBuffer({ resolveWithObject: true });
      assert.deepEqual([info.width, info.height], [768, 576]);
      // The left edge of each person's box is drawn in green: sample the middle of that edge.
      for (const e of json) {
        const x = Math.round(e.entity.box.l * 768);
        const y = Math.round((e.entity.box.t + e.entity.box.h / 2) * 576);
        const i = (y * 768 + x) * 3;
        const [r, g, b] = [data[i]!, data[i + 1]!, data[i + 2]!];
        assert.ok(g > 180 && r < 110 && b < 110, `pixel (${x},${y}) is ${r},${g},${b}, not the box's green`);
      }
    }
  });

  it('annotates at the received size, though detection may decode a large JPEG reduced', async () => {
    const large = await sharp(fixture('frames/street100_768x576.jpg')).resize(1536, 1152).jpeg().toBuffer();
    const response = await request(server.at('/annotate'), { method: 'POST', body: large, dispatcher: agent });
    assert.equal(response.statusCode, 200);
    const meta = await sharp(Buffer.from(await response.body.arrayBuffer())).metadata();
    assert.deepEqual([meta.width, meta.height], [1536, 1152]);
    const answer = await post(server.at('/detect'), large);
    assertFindsPedestrians(answer.json, PEDESTRIANS_768);
  });

  it("keeps answering JSON to the pipelines' Accept: application/json, */*", async () => {
    const answer = await post(server.at('/detect'), fixture('frames/street100_416.jpg'), {
      accept: 'application/json, */*',
    });
    assert.equal(answer.status, 200);
  });
});

describe('objectDetection options', () => {
  it('rejects unknown execution providers and bad thread counts at boot, listing every problem', async () => {
    const { default: objectDetection } = await import('../src/processors/object-detection/index.js');
    assert.throws(() => processorOptions(objectDetection, { executionProviders: ['gpu'], threads: 0 }), {
      message:
        '/threads must be >= 1; /executionProviders/0: must be one of cpu, cuda, tensorrt, webgpu, dml, coreml, qnn',
    });
    assert.throws(
      () => processorOptions(objectDetection, { executionProviders: [] }),
      /\/executionProviders must NOT have fewer than 1 items/,
    );
  });

  it('a provider this runtime does not have fails the boot, naming it (no silent CPU fall-back)', async () => {
    // DirectML exists on Windows builds only, Core ML on Apple's: neither is ever in this platform's package.
    const missing = process.platform === 'win32' ? 'coreml' : 'dml';
    const server = await startTestServer(
      {
        workers: 1,
        routes: [{ path: '/detect', processor: 'objectDetection', options: { executionProviders: [missing, 'cpu'] } }],
      },
      { waitReady: false },
    );
    try {
      await assert.rejects(server.ready, (error: Error & { code?: string }) => {
        assert.equal(error.code, 'HX_ERR_PROCESSOR_LOAD');
        assert.match(error.message, new RegExp(`executionProviders \\["${missing}","cpu"\\]`));
        return true;
      });
    } finally {
      await server.close();
    }
  });
});

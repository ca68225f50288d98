import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import sharp from 'sharp';
import { loadConfig } from '../src/config/load.js';
import { InferenceEngine } from '../src/inference/engine.js';
import { post } from './helpers/http.js';
import { writeTestModels } from './helpers/onnx-models.js';
import { startTestServer, type TestServer } from './helpers/server.js';

/** A 640x320 frame: letterboxed into the 320x320 models it is 320x160 with 80-pixel bars above and below. */
function frame(width: number, height: number, rgb: [number, number, number]): Promise<Buffer> {
  return sharp({ create: { width, height, channels: 3, background: { r: rgb[0], g: rgb[1], b: rgb[2] } } })
    .png()
    .toBuffer();
}

/** What every detector test model must answer for the 640x320 frame (see test/helpers/onnx-models.ts). */
function expectedDetections(subtype: string) {
  return {
    inferences: [
      // Input box (160,60)-(320,140): its top lies in the bar, so it is clamped to the image's top edge.
      {
        type: 'entity',
        subtype,
        entity: { tag: { value: 'cat', confidence: 0.95 }, box: { l: 0.5, t: 0, w: 0.5, h: 0.375 } },
      },
      // Input box (40,100)-(120,180) -> image (80,40)-(240,200) of 640x320.
      {
        type: 'entity',
        subtype,
        entity: { tag: { value: 'dog', confidence: 0.81 }, box: { l: 0.125, t: 0.125, w: 0.25, h: 0.5 } },
      },
    ],
  };
}

describe('onnx: user models from a model directory', () => {
  let server: TestServer;
  let root: string;
  before(async () => {
    root = mkdtempSync(join(tmpdir(), 'hx-models-'));
    writeTestModels(root);
    const models = ['yolov5', 'yolov8', 'yolox', 'ssd', 'colour-nchw', 'colour-nhwc-bgr'];
    server = await startTestServer({
      workers: 1,
      routes: models.map((model) => ({ path: `/${model}`, processor: 'onnx', options: { model, modelsDir: root } })),
    });
  });
  after(async () => {
    await server.close();
    rmSync(root, { recursive: true, force: true });
  });

  for (const decoder of ['yolov5', 'yolov8', 'yolox', 'ssd']) {
    it(`${decoder}: decodes, thresholds, suppresses overlaps and maps boxes back through the letterbox`, async () => {
      const answer = await post(server.at(`/${decoder}`), await frame(640, 320, [40, 40, 40]));
      assert.equal(answer.status, 200, answer.text);
      assert.deepEqual(answer.json, expectedDetections(decoder));
    });
  }

  it('the query filters apply to ONNX models too', async () => {
    const body = await frame(640, 320, [40, 40, 40]);
    const dogs = await post(server.at('/yolov8?object=dog'), body);
    assert.deepEqual(dogs.json, { inferences: [expectedDetections('yolov8').inferences[1]] });
    const sure = await post(server.at('/yolov8?confidence=0.9'), body);
    assert.deepEqual(sure.json, { inferences: [expectedDetections('yolov8').inferences[0]] });
    assert.equal((await post(server.at('/yolov8?confidence=0.99'), body)).status, 204);
  });

  it('classification: NCHW RGB input, top class', async () => {
    const red = await post(server.at('/colour-nchw'), await frame(64, 48, [255, 0, 0]));
    assert.deepEqual(red.json, {
      inferences: [
        { type: 'classification', subtype: 'colour-nchw', classification: { tag: { value: 'red', confidence: 1 } } },
      ],
    });
    const green = await post(server.at('/colour-nchw'), await frame(64, 48, [0, 255, 0]));
    assert.equal(
      (green.json as { inferences: [{ classification: { tag: { value: string } } }] }).inferences[0].classification.tag
        .value,
      'green',
    );
  });

  it('classification: NHWC BGR input with mean/std normalisation, top 2', async () => {
    const answer = await post(server.at('/colour-nhwc-bgr'), await frame(64, 48, [255, 0, 102]));
    assert.deepEqual(answer.json, {
      inferences: [
        { type: 'classification', subtype: 'colour', classification: { tag: { value: 'red', confidence: 0.5 } } },
        { type: 'classification', subtype: 'colour', classification: { tag: { value: 'blue', confidence: 0.2 } } },
      ],
    });
  });

  it('a missing model directory fails the boot with every problem listed', async () => {
    const config = loadConfig({
      env: {},
      flags: {
        routes: [
          { path: '/a', processor: 'onnx', options: { model: 'nope', modelsDir: root } },
          { path: '/b', processor: 'onnx', options: { model: 'yolov5', modelsDir: root, threads: 0 } },
        ],
      },
    });
    await assert.rejects(
      InferenceEngine.prepare({
        routes: config.routes.map((r) => ({ ...r, options: r.options ?? {} })),
        workers: 1,
        maxQueuedRequests: 1,
        maxPixels: 1e8,
      }),
      (error: Error & { code?: string }) => {
        assert.equal(error.code, 'HX_ERR_CONFIG_INVALID');
        assert.match(error.message, /nope[/\\]model\.json does not exist/);
        assert.match(error.message, /route \/b \(onnx\): \/threads must be >= 1/);
        return true;
      },
    );
  });
});

import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import sharp from 'sharp';
import { type CliServer, startCli } from './helpers/cli.js';
import { fixture, post } from './helpers/http.js';
import { writeBmp } from './helpers/images.js';
import { writeTestModels } from './helpers/onnx-models.js';
import { startTestServer, type TestServer } from './helpers/server.js';

/*
 * docs/migrating.md, each claim sent as the vendor's pipeline sent it: the HttpExtension node of the sample's own
 * topology (test/fixtures/topologies) POSTs a BMP (`ImageFormatBmp`) at the topology's size, with
 * `User-Agent: Azure Media Services`, a GUID in x-ms-client-request-id and, where the topology has
 * `UsernamePasswordCredentials`, a Basic Authorization header, to the path the sample served.
 */

interface Entity {
  type: string;
  subtype: string;
  entity: { tag: { value: string; confidence: number }; box: { l: number; t: number; w: number; h: number } };
}

/** A frame as the pipeline's BMP encoder sends it: 24-bit, bottom-up, BITMAPINFOHEADER. */
async function bmpOf(jpeg: Buffer): Promise<Uint8Array> {
  const { data, info } = await sharp(jpeg).removeAlpha().raw().toBuffer({ resolveWithObject: true });
  return writeBmp({
    width: info.width,
    height: info.height,
    bpp: 24,
    pixel: (x, y) => {
      const i = (y * info.width + x) * 3;
      return (data[i]! << 16) | (data[i + 1]! << 8) | data[i + 2]!;
    },
  });
}

function pipelineHeaders(extra: Record<string, string> = {}): Record<string, string> {
  return {
    'content-type': 'image/bmp',
    'user-agent': 'Azure Media Services',
    'x-ms-client-request-id': crypto.randomUUID(),
    ...extra,
  };
}

const basic = `Basic ${Buffer.from('pipeline:secret').toString('base64')}`;

describe('migrating from the colour-intensity HTTP sample', () => {
  let server: TestServer;
  before(async () => {
    server = await startTestServer({ workers: 1 });
  });
  after(() => server.close());

  test('same route, same request: a classification (the sample said entity without a box), the id echoed', async () => {
    const headers = pipelineHeaders({ authorization: basic });
    const answer = await post(server.at('/score'), await bmpOf(fixture('frames/baboon_416.jpg')), headers);
    assert.equal(answer.status, 200);
    assert.equal(answer.headers['x-ms-client-request-id'], headers['x-ms-client-request-id']);
    const [inference, ...rest] = (answer.json as { inferences: Array<Record<string, unknown>> }).inferences;
    assert.equal(rest.length, 0);
    assert.deepEqual(
      [inference!.type, inference!.subtype, (inference!.classification as { tag: unknown }).tag],
      ['classification', 'colorIntensity', { value: 'light', confidence: 1 }],
    );
    assert.equal('entity' in inference!, false);
  });

  test('bytes that are no image: 400 with a JSON error (the sample answered text "Could not decode image")', async () => {
    const answer = await post(server.at('/score'), Buffer.from('not an image at all'), pipelineHeaders());
    assert.equal(answer.status, 400);
    assert.match((answer.json as { code: string }).code, /^HX_ERR_MEDIA_/);
  });
});

describe('migrating from the YOLOv3 / Tiny YOLOv3 ONNX samples, the OpenVINO extension, the Custom Vision container', () => {
  let server: CliServer;
  before(async () => {
    const models = mkdtempSync(join(tmpdir(), 'hx-migrating-'));
    writeTestModels(models);
    // The routes of docs/migrating.md, from the command line alone.
    server = await startCli(
      [
        '--workers',
        '1',
        '--route',
        '/score=objectDetection',
        '--route',
        '/annotate=objectDetection,annotate',
        '--route',
        '/personVehicleBikeDetection=objectDetection',
        '--route',
        `/image=onnx,model=yolov5,modelsDir=${models}`,
      ],
      {},
    );
  });
  after(() => server.stop());

  test('YOLO /score?object=person&confidence=0.5: entities with subtype, boxes clamped, credentials ignored', async () => {
    const body = await bmpOf(fixture('frames/street100_416.jpg'));
    const answer = await post(
      `${server.url}/score?object=person&confidence=0.5`,
      body,
      pipelineHeaders({ authorization: basic }),
    );
    assert.equal(answer.status, 200, answer.text);
    const entities = (answer.json as { inferences: Entity[] }).inferences;
    assert.ok(entities.length >= 2, answer.text);
    for (const e of entities) {
      assert.deepEqual([e.type, e.subtype, e.entity.tag.value], ['entity', 'objectDetection', 'person']);
      assert.ok(e.entity.tag.confidence >= 0.5);
      const { l, t, w, h } = e.entity.box;
      assert.ok(l >= 0 && t >= 0 && l + w <= 1 && t + h <= 1, JSON.stringify(e.entity.box));
    }
    // ?confidence= applies without ?object= too (the samples applied it only with one).
    const confident = await post(`${server.url}/score?confidence=0.6`, body, pipelineHeaders());
    const all = await post(`${server.url}/score`, body, pipelineHeaders());
    const count = (a: typeof all) => (a.json as { inferences: Entity[] }).inferences.length;
    const scores = (all.json as { inferences: Entity[] }).inferences.map((e) => e.entity.tag.confidence);
    assert.equal(count(confident), scores.filter((c) => c >= 0.6).length);
    assert.ok(count(confident) < count(all), 'some detections are under 0.6');
  });

  test('YOLO: nothing found is 204 with no body, not 200 {"inferences": []}', async () => {
    const black = await sharp({ create: { width: 416, height: 416, channels: 3, background: '#000' } })
      .jpeg()
      .toBuffer();
    const answer = await post(`${server.url}/score`, await bmpOf(black), pipelineHeaders());
    assert.equal(answer.status, 204);
    assert.equal(answer.text, '');
  });

  test('YOLO /annotate: the frame as image/jpeg with the boxes drawn', async () => {
    const answer = await fetch(`${server.url}/annotate`, {
      method: 'POST',
      body: await bmpOf(fixture('frames/street100_416.jpg')),
      headers: pipelineHeaders(),
    });
    assert.equal(answer.status, 200);
    assert.equal(answer.headers.get('content-type'), 'image/jpeg');
    const image = await sharp(Buffer.from(await answer.arrayBuffer())).metadata();
    assert.deepEqual([image.format, image.width, image.height], ['jpeg', 416, 416]);
  });

  test('OpenVINO extension path, native-size BMP: COCO labels ("person", not OpenVINO\'s classes)', async () => {
    const body = await bmpOf(fixture('frames/street100_768x576.jpg'));
    const answer = await post(`${server.url}/personVehicleBikeDetection`, body, pipelineHeaders());
    assert.equal(answer.status, 200, answer.text);
    const labels = new Set((answer.json as { inferences: Entity[] }).inferences.map((e) => e.entity.tag.value));
    assert.ok(labels.has('person'), [...labels].join());
  });

  test('Custom Vision POST /image (octet-stream): the inference schema, not Custom Vision\'s "predictions"', async () => {
    const answer = await post(`${server.url}/image`, fixture('frames/fruits_416.jpg'), {
      'content-type': 'application/octet-stream',
    });
    assert.equal(answer.status, 200, answer.text);
    const json = answer.json as { inferences: Entity[]; predictions?: unknown };
    assert.equal(json.predictions, undefined);
    assert.deepEqual(json.inferences.map((e) => [e.type, e.subtype, e.entity.tag.value]).sort(), [
      ['entity', 'yolov5', 'cat'],
      ['entity', 'yolov5', 'dog'],
    ]);
  });
});

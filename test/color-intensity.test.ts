import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import sharp from 'sharp';
import colorIntensity from '../src/processors/color-intensity/index.js';
import { processorOptions } from '../src/processors/options.js';
import { fixture, post } from './helpers/http.js';
import { startTestServer, type TestServer } from './helpers/server.js';

/** Expected answers with bars included: mean BT.601 luma of the fully decoded frame (test/fixtures/README.md). */
const TABLE = [
  { file: 'frames/baboon_416.jpg', mean: 129.669, answer: 'light' },
  { file: 'frames/fruits_416.jpg', mean: 83.171, answer: 'dark' },
  { file: 'frames/messi_416.jpg', mean: 52.13, answer: 'dark' },
  { file: 'frames/street100_416.jpg', mean: 91.978, answer: 'dark' },
  { file: 'frames/street100_768x576.jpg', mean: 122.581, answer: 'dark' },
];

interface Answer {
  inferences: Array<{ classification: { tag: { value: string }; attributes: Array<{ name: string; value: string }> } }>;
}
const tagOf = (json: unknown) => (json as Answer).inferences[0]!.classification.tag.value;
const attr = (json: unknown, name: string) =>
  (json as Answer).inferences[0]!.classification.attributes.find((a) => a.name === name)!.value;

describe('colorIntensity', () => {
  let server: TestServer;
  before(async () => {
    server = await startTestServer({
      routes: [
        { path: '/score', processor: 'colorIntensity', options: {} },
        { path: '/with-bars', processor: 'colorIntensity', options: { excludeBars: false } },
        { path: '/threshold', processor: 'colorIntensity', options: { threshold: 50, excludeBars: false } },
      ],
    });
  });
  after(() => server.close());

  for (const row of TABLE) {
    test(`bars included: ${row.file} is ${row.answer} (mean ${row.mean})`, async () => {
      const answer = await post(server.at('/with-bars'), fixture(row.file), { 'content-type': 'image/jpeg' });
      assert.equal(answer.status, 200);
      assert.equal(tagOf(answer.json), row.answer);
      assert.ok(Math.abs(Number(attr(answer.json, 'meanLuma')) - row.mean) < 0.6, attr(answer.json, 'meanLuma'));
    });
  }

  test('the threshold is configurable', async () => {
    const answer = await post(server.at('/threshold'), fixture('frames/messi_416.jpg'));
    assert.equal(tagOf(answer.json), 'light');
  });

  test('letterbox bars are left out of the mean by default, and the region says where it was measured', async () => {
    // A light picture (baboon, mean 129.7) padded to 416x416 with 104-pixel black bars above and below, losslessly.
    const picture = await sharp(fixture('frames/baboon_416.jpg')).resize(416, 208, { fit: 'fill' }).toBuffer();
    const padded = await sharp(picture).extend({ top: 104, bottom: 104, background: '#000000' }).png().toBuffer();
    const excluded = await post(server.at('/score'), padded, { 'content-type': 'image/png' });
    assert.equal(tagOf(excluded.json), 'light');
    assert.equal(attr(excluded.json, 'region'), '0,104,416,208');
    const included = await post(server.at('/with-bars'), padded, { 'content-type': 'image/png' });
    assert.equal(tagOf(included.json), 'dark');
    assert.equal(attr(included.json, 'region'), '0,0,416,416');
    // The two means relate exactly by the area ratio.
    const ratio = Number(attr(included.json, 'meanLuma')) / Number(attr(excluded.json, 'meanLuma'));
    assert.ok(Math.abs(ratio - 0.5) < 0.002, String(ratio));
  });

  test('pillarbox bars (left and right) are left out too', async () => {
    const picture = await sharp(fixture('frames/baboon_416.jpg')).resize(234, 416, { fit: 'fill' }).toBuffer();
    const padded = await sharp(picture).extend({ left: 91, right: 91, background: '#000000' }).png().toBuffer();
    const answer = await post(server.at('/score'), padded);
    assert.equal(tagOf(answer.json), 'light');
    assert.equal(attr(answer.json, 'region'), '91,0,234,416');
  });

  test('a dark band on one side only is picture, not padding', async () => {
    const picture = await sharp(fixture('frames/baboon_416.jpg')).resize(416, 312, { fit: 'fill' }).toBuffer();
    const oneSided = await sharp(picture).extend({ top: 104, background: '#000000' }).png().toBuffer();
    const answer = await post(server.at('/score'), oneSided);
    assert.equal(attr(answer.json, 'region'), '0,0,416,416');
  });

  test('a frame that is black all over is measured whole (no bars), and is dark', async () => {
    const black = await sharp({ create: { width: 64, height: 48, channels: 3, background: '#000000' } })
      .png()
      .toBuffer();
    const answer = await post(server.at('/score'), black);
    assert.equal(tagOf(answer.json), 'dark');
    assert.equal(attr(answer.json, 'meanLuma'), '0.000');
    assert.equal(attr(answer.json, 'region'), '0,0,64,48');
  });

  test('flat 126 is dark and flat 127 is light (the threshold is "mean < 127 is dark")', async () => {
    for (const [level, expected] of [
      [126, 'dark'],
      [127, 'light'],
    ] as const) {
      const flat = await sharp({
        create: { width: 416, height: 416, channels: 3, background: { r: level, g: level, b: level } },
      })
        .png()
        .toBuffer();
      const answer = await post(server.at('/score'), flat);
      assert.equal(tagOf(answer.json), expected);
      assert.equal(attr(answer.json, 'meanLuma'), `${level}.000`);
    }
  });

  test('a large JPEG decoded at reduced scale gives the same answer and a mean within a fraction of a level', async () => {
    const big = await sharp(fixture('frames/street100_768x576.jpg'))
      .resize(1920, 1440)
      .jpeg({ quality: 90 })
      .toBuffer();
    const answer = await post(server.at('/with-bars'), big);
    assert.equal(tagOf(answer.json), 'dark');
    assert.ok(Math.abs(Number(attr(answer.json, 'meanLuma')) - 122.581) < 1, attr(answer.json, 'meanLuma'));
    assert.equal(attr(answer.json, 'region'), '0,0,1920,1440');
  });

  test('options are validated: unknown keys and bad values are refused', () => {
    const parse = (raw: Record<string, unknown>) => processorOptions(colorIntensity, raw);
    assert.throws(() => parse({ treshold: 100 }), /^Error: \/: unknown key "treshold"$/);
    assert.throws(() => parse({ threshold: 'high' }), /^Error: \/threshold must be number$/);
    assert.throws(() => parse({ threshold: 300, excludeBars: 'yes' }), {
      message: '/threshold must be <= 256; /excludeBars must be boolean',
    });
    assert.deepEqual(parse({}), { threshold: 127, excludeBars: true, barMaxLuma: 24 });
    const raw = { threshold: 100 };
    assert.deepEqual(parse(raw), { threshold: 100, excludeBars: true, barMaxLuma: 24 });
    assert.deepEqual(raw, { threshold: 100 }, 'the configuration keeps what the operator wrote');
  });
});

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import sharp from 'sharp';
import { type Frame, type FrameRequirements, toRgb24 } from '../src/contract/frame.js';
import { decodeFrame, decodeWithSharp } from '../src/inference/decode.js';
import { decodeJpegNative, jpegReduction, jpegTurbo } from '../src/inference/jpeg-native.js';
import { probeEncoded } from '../src/inference/probe.js';
import colorIntensity, { meanLuma } from '../src/processors/color-intensity/index.js';
import { processorOptions } from '../src/processors/options.js';
import { assertError, fixture, post } from './helpers/http.js';
import { writeJpeg } from './helpers/jpeg-writer.js';
import { startTestServer, type TestServer } from './helpers/server.js';

const JPEGS = ['baboon_416.jpg', 'fruits_416.jpg', 'messi_416.jpg', 'street100_416.jpg', 'street100_768x576.jpg'];
const REDUCED: FrameRequirements = colorIntensity.frameRequirements!(processorOptions(colorIntensity, {}) as never);
const whole = (frame: Frame) => meanLuma(frame, { x: 0, y: 0, width: frame.width, height: frame.height });

/** The fixtures plus a full-HD frame made from one of them (pipelines send 1080p; the fixtures are smaller). */
async function samples(): Promise<Array<{ name: string; bytes: Buffer }>> {
  const list = JPEGS.map((name) => ({ name, bytes: fixture(`frames/${name}`) }));
  const hd = await sharp(fixture('frames/street100_768x576.jpg'))
    .resize(1920, 1080, { fit: 'fill' })
    .jpeg({ quality: 90 })
    .toBuffer();
  list.push({ name: 'street100 scaled to 1920x1080', bytes: hd });
  const src = () => sharp(fixture('frames/fruits_416.jpg'));
  list.push({ name: 'fruits progressive', bytes: await src().jpeg({ quality: 90, progressive: true }).toBuffer() });
  list.push({ name: 'fruits 4:4:4', bytes: await src().jpeg({ quality: 90, chromaSubsampling: '4:4:4' }).toBuffer() });
  return list;
}

describe('libjpeg-turbo binding', () => {
  test('is built (CI installs libjpeg62-turbo-dev; elsewhere: install the headers, then npm rebuild)', () => {
    assert.ok(jpegTurbo(), 'native/jpeg-turbo/build/Release/jpeg_turbo.node did not load');
  });

  test('reduction: the largest DCT scale that keeps the processor minimum', () => {
    assert.equal(jpegReduction({ kind: 'jpeg', width: 3840, height: 2160 }, REDUCED), 8);
    assert.equal(jpegReduction({ kind: 'jpeg', width: 1920, height: 1080 }, REDUCED), 4);
    assert.equal(jpegReduction({ kind: 'jpeg', width: 416, height: 416 }, REDUCED), 2);
    assert.equal(jpegReduction({ kind: 'jpeg', width: 300, height: 200 }, REDUCED), 1);
    assert.equal(jpegReduction({ kind: 'jpeg', width: 1920, height: 1080 }, {}), 1);
  });

  test('full size: the binding and the sharp fallback give the same pixels', async () => {
    for (const { name, bytes } of await samples()) {
      const info = probeEncoded(bytes);
      const native = decodeJpegNative(bytes, info, {});
      const fallback = await decodeWithSharp(bytes, info, {});
      assert.deepEqual([native.width, native.height, native.format], [fallback.width, fallback.height, 'rgb24']);
      let worst = 0;
      for (let i = 0; i < native.data.length; i++)
        worst = Math.max(worst, Math.abs(native.data[i]! - fallback.data[i]!));
      assert.ok(worst <= 2, `${name}: pixels differ by up to ${worst}`);
    }
  });

  test('reduced decode keeps the mean luma within 1 level of the full decode, on both paths', async () => {
    for (const { name, bytes } of await samples()) {
      const info = probeEncoded(bytes);
      const full = whole(await decodeWithSharp(bytes, info, {}));
      const native = decodeJpegNative(bytes, info, REDUCED);
      const r = jpegReduction(info, REDUCED);
      assert.equal(native.width, Math.ceil(info.width / r), name);
      assert.ok(Math.abs(whole(native) - full) < 1, `${name}: native ${whole(native)} vs full ${full}`);
      const fallback = whole(await decodeWithSharp(bytes, info, REDUCED));
      assert.ok(Math.abs(fallback - full) < 1, `${name}: sharp ${fallback} vs full ${full}`);
    }
  });

  test('a greyscale JPEG decodes to one channel', async () => {
    const bytes = await sharp(fixture('frames/messi_416.jpg')).toColourspace('b-w').jpeg().toBuffer();
    const frame = decodeJpegNative(bytes, probeEncoded(bytes), {});
    assert.equal(frame.format, 'gray8');
    assert.equal(frame.data.length, 416 * 416);
    const full = await decodeWithSharp(bytes, probeEncoded(bytes), {});
    assert.ok(Math.abs(whole(frame) - whole(full)) < 0.01);
  });

  test('a CMYK JPEG is decoded by the binding, converted as OpenCV converts it (R = C x K / 255 on stored values)', async () => {
    const n = 16 * 16;
    const plane = (v: number) => ({ samples: new Uint8Array(n).fill(v), h: 1 as const, v: 1 as const });
    const bytes = writeJpeg({ width: 16, height: 16, components: [plane(200), plane(100), plane(50), plane(128)] });
    const frame = await decodeFrame(bytes, probeEncoded(bytes), {});
    assert.deepEqual([frame.width, frame.height, frame.format], [16, 16, 'rgb24']);
    const rgb = toRgb24(frame);
    for (let p = 0; p < n; p++) {
      const got = [rgb[p * 3]!, rgb[p * 3 + 1]!, rgb[p * 3 + 2]!];
      assert.ok(
        got.every((v, i) => Math.abs(v - [100, 50, 25][i]!) <= 1),
        `pixel ${p}: ${got.join(',')}`,
      );
    }
    // libvips' CMYK (from sharp, with an Adobe marker) decodes too, reduced as any other JPEG.
    const adobe = await sharp(fixture('frames/messi_416.jpg')).toColourspace('cmyk').jpeg().toBuffer();
    const reduced = await decodeFrame(adobe, probeEncoded(adobe), REDUCED);
    assert.deepEqual([reduced.width, reduced.height, reduced.format], [208, 208, 'rgb24']);
  });

  test('a JPEG in an unknown colour space (2 components) is HX_ERR_MEDIA_UNDECODABLE', () => {
    const plane = { samples: new Uint8Array(64).fill(90), h: 1 as const, v: 1 as const };
    const bytes = writeJpeg({ width: 8, height: 8, components: [plane, plane] });
    assert.throws(() => decodeJpegNative(bytes, probeEncoded(bytes), {}), {
      code: 'HX_ERR_MEDIA_UNDECODABLE',
      message: /unknown colour space/,
    });
  });

  test('one DCT-scaling rule: the fallback decodes to the size the binding does', async () => {
    for (const { name, bytes } of await samples()) {
      const info = probeEncoded(bytes);
      for (const needs of [
        REDUCED,
        {},
        { maxReduction: 8 as const },
        { maxReduction: 4 as const, minReducedPixels: 1e5 },
      ]) {
        const native = decodeJpegNative(bytes, info, needs);
        const fallback = await decodeWithSharp(bytes, info, needs);
        assert.deepEqual([fallback.width, fallback.height], [native.width, native.height], name);
        assert.deepEqual([fallback.sourceWidth, fallback.sourceHeight], [info.width, info.height], name);
      }
    }
  });

  test('truncation policy: a body cut anywhere before its EOI marker is refused by both decoders', async () => {
    const good = fixture('frames/street100_416.jpg');
    const info = probeEncoded(good);
    const progressive = await sharp(good).jpeg({ quality: 90, progressive: true }).toBuffer();
    for (const body of [good, progressive]) {
      // Mid-scan, and the whole scan present with only the 2-byte EOI marker missing.
      for (const end of [body.length >> 1, body.length - 200, body.length - 2]) {
        const cut = body.subarray(0, end);
        assert.throws(() => decodeJpegNative(cut, info, {}), {
          code: 'HX_ERR_MEDIA_UNDECODABLE',
          message: /premature end/,
        });
        await assert.rejects(decodeWithSharp(cut, info, {}), {
          code: 'HX_ERR_MEDIA_UNDECODABLE',
          message: /premature end/,
        });
      }
      // Complete bodies decode on both paths, with bytes after EOI too (some cameras pad their buffers).
      const padded = Buffer.concat([body, Buffer.alloc(64)]);
      assert.equal(decodeJpegNative(padded, info, {}).width, 416);
      assert.equal((await decodeWithSharp(padded, info, {})).width, 416);
    }
  });

  test('randomly damaged JPEGs either decode or throw HX_ERR_MEDIA_UNDECODABLE, never anything else', () => {
    const good = fixture('frames/street100_416.jpg');
    const info = probeEncoded(good);
    let seed = 12345; // fixed: the same 300 bodies every run
    const random = () => {
      seed = (seed * 1103515245 + 12345) & 0x7fffffff;
      return seed / 0x7fffffff;
    };
    const outcomes = new Set<string>();
    for (let k = 0; k < 300; k++) {
      const bytes = Buffer.from(good);
      // A few bytes overwritten, often in the headers (the first 700 bytes), sometimes cut short.
      for (let j = 0, n = 1 + Math.floor(random() * 8); j < n; j++) {
        bytes[Math.floor(random() * (random() < 0.5 ? 700 : bytes.length))] = Math.floor(random() * 256);
      }
      const body = random() < 0.2 ? bytes.subarray(0, Math.floor(random() * bytes.length)) : bytes;
      try {
        const frame = decodeJpegNative(body, info, k % 2 === 0 ? {} : REDUCED);
        assert.equal(frame.data.length, frame.stride * frame.height);
        outcomes.add('decoded');
      } catch (error) {
        assert.equal((error as { code?: string }).code, 'HX_ERR_MEDIA_UNDECODABLE', String(error));
        outcomes.add('refused');
      }
    }
    assert.ok(outcomes.has('decoded') && outcomes.has('refused'), [...outcomes].join());
  });

  test('corrupt and truncated JPEGs throw HX_ERR_MEDIA_UNDECODABLE', () => {
    const good = fixture('frames/messi_416.jpg');
    const info = probeEncoded(good);
    for (const bytes of [truncated(good), bogusMarker(good), good.subarray(0, 3)]) {
      assert.throws(() => decodeJpegNative(bytes, info, REDUCED), { code: 'HX_ERR_MEDIA_UNDECODABLE' });
    }
  });
});

/** The first 4 KiB: headers intact, most of the entropy-coded data missing. */
function truncated(good: Buffer): Buffer {
  return good.subarray(0, 4096);
}

/** The first DQT segment's length set to 1 (less than its own length field). */
function bogusMarker(good: Buffer): Buffer {
  const bytes = Buffer.from(good);
  const dqt = bytes.indexOf(Buffer.from([0xff, 0xdb]));
  bytes.writeUInt16BE(1, dqt + 2);
  return bytes;
}

describe('broken JPEGs over HTTP', () => {
  let server: TestServer;
  before(async () => {
    server = await startTestServer({ routes: [{ path: '/score', processor: 'colorIntensity', options: {} }] });
  });
  after(() => server.close());

  test('are refused with 400 and the worker keeps serving', async () => {
    const good = fixture('frames/street100_768x576.jpg');
    for (const bad of [truncated(good), bogusMarker(good)]) {
      assertError(
        await post(server.at('/score'), bad, { 'content-type': 'image/jpeg' }),
        400,
        'HX_ERR_MEDIA_UNDECODABLE',
      );
    }
    for (let i = 0; i < 4; i++) {
      const answer = await post(server.at('/score'), good, { 'content-type': 'image/jpeg' });
      assert.equal(answer.status, 200, answer.text);
    }
  });
});

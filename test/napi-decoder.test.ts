import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import sharp from 'sharp';
import { decodeFrame, decodeWithSharp } from '../src/inference/decode.js';
import { type Frame, toRgb24 } from '../src/inference/frame.js';
import { decodeWithNapi } from '../src/inference/napi-decoder.js';
import { probeEncoded } from '../src/inference/probe.js';
import { meanLuma } from '../src/processors/color-intensity/index.js';
import { fixture } from './helpers/http.js';

const whole = (frame: Frame) => meanLuma(frame, { x: 0, y: 0, width: frame.width, height: frame.height });
const source = () => sharp(fixture('frames/fruits_416.jpg'));

describe('@napi-rs/image decoder', () => {
  const pngs: Array<[string, () => Promise<Buffer>, string]> = [
    ['RGB', () => source().png().toBuffer(), 'rgb24'],
    ['grey', () => source().toColourspace('b-w').png().toBuffer(), 'gray8'],
    ['palette', () => source().png({ palette: true }).toBuffer(), 'rgb24'],
    ['interlaced', () => source().png({ progressive: true }).toBuffer(), 'rgb24'],
  ];
  for (const [name, make, format] of pngs) {
    test(`${name} PNG: the same pixels as libvips`, async () => {
      const bytes = await make();
      const info = probeEncoded(bytes);
      const frame = decodeWithNapi(bytes, info)!;
      assert.equal(frame.format, format);
      assert.deepEqual(toRgb24(frame), toRgb24(await decodeWithSharp(bytes, info, {})));
    });
  }

  test('PNGs with alpha or 16 bits are left to libvips', async () => {
    for (const bytes of [
      await source().ensureAlpha(0.5).png().toBuffer(),
      await source().ensureAlpha(0.5).png({ palette: true }).toBuffer(),
      await source().png().toColourspace('rgb16').toBuffer(),
      await source().toColourspace('b-w').ensureAlpha().png().toBuffer(),
    ]) {
      const info = probeEncoded(bytes);
      assert.equal(decodeWithNapi(bytes, info), undefined);
      const frame = await decodeFrame(bytes, info);
      assert.deepEqual([frame.width, frame.height], [416, 416]);
    }
  });

  test('a truncated PNG is HX_ERR_MEDIA_UNDECODABLE', async () => {
    const bytes = await source().png().toBuffer();
    const cut = bytes.subarray(0, bytes.length >> 1);
    assert.throws(() => decodeWithNapi(cut, probeEncoded(cut)), { code: 'HX_ERR_MEDIA_UNDECODABLE' });
  });

  test('JPEG fixtures: mean luma within 1 level of libvips', async () => {
    for (const name of ['baboon_416.jpg', 'fruits_416.jpg', 'messi_416.jpg', 'street100_416.jpg']) {
      const bytes = fixture(`frames/${name}`);
      const info = probeEncoded(bytes);
      const frame = decodeWithNapi(bytes, info)!;
      const full = await decodeWithSharp(bytes, info, {});
      assert.ok(Math.abs(whole(frame) - whole(full)) < 1, `${name}: ${whole(frame)} vs ${whole(full)}`);
    }
  });

  test('truncated and CMYK JPEGs are left to libvips', async () => {
    const good = fixture('frames/messi_416.jpg');
    const cmyk = await sharp(good).toColourspace('cmyk').jpeg().toBuffer();
    for (const bytes of [good.subarray(0, 4096), cmyk])
      assert.equal(decodeWithNapi(bytes, probeEncoded(good)), undefined);
  });
});

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import sharp from 'sharp';
import { toRgb24 } from '../src/contract/frame.js';
import { decodeFrame, decodeWithSharp } from '../src/inference/decode.js';
import { decodePngNapi } from '../src/inference/napi-decoder.js';
import { probeEncoded } from '../src/inference/probe.js';
import { fixture } from './helpers/http.js';

const source = () => sharp(fixture('frames/fruits_416.jpg'));

describe('@napi-rs/image PNG decoder', () => {
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
      const frame = decodePngNapi(bytes, info)!;
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
      assert.equal(decodePngNapi(bytes, info), undefined);
      const frame = await decodeFrame(bytes, info);
      assert.deepEqual([frame.width, frame.height], [416, 416]);
    }
  });

  test('a truncated PNG is HX_ERR_MEDIA_UNDECODABLE', async () => {
    const bytes = await source().png().toBuffer();
    const cut = bytes.subarray(0, bytes.length >> 1);
    assert.throws(() => decodePngNapi(cut, probeEncoded(cut)), { code: 'HX_ERR_MEDIA_UNDECODABLE' });
  });
});

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { toRgb24 } from '../src/contract/frame.js';
import { isHxError } from '../src/errors.js';
import { decodeBmp } from '../src/inference/bmp.js';
import { probeEncoded } from '../src/inference/probe.js';
import { encodeRle, rleBmp } from './helpers/bmp-rle.js';
import { paletteColour, rleIndex, rleVariants, writeBmp } from './helpers/images.js';

/**
 * RLE8, RLE4 and bit-field BMPs (what OpenCV decodes beyond plain rows): exact pixels from committed encoders, and
 * hostile streams, each of which must end in the one decode error, never a crash, a hang or a write out of bounds.
 */

const PALETTE16 = Array.from({ length: 16 }, (_, i) => paletteColour(i)).flat();
const PALETTE256 = Array.from({ length: 256 }, (_, i) => paletteColour(i)).flat();

function undecodable(body: Uint8Array, why: RegExp): void {
  assert.throws(
    () => decodeBmp(body),
    (error: unknown) => {
      assert.ok(isHxError(error), String(error));
      assert.equal(error.code, 'HX_ERR_MEDIA_UNDECODABLE');
      assert.match(error.message, /^The BMP image could not be decoded: /);
      assert.match(error.message, why);
      return true;
    },
  );
}

/** A 4x3 RLE8 file around a hand-written stream. */
const small8 = (stream: number[], topDown = false) =>
  rleBmp({ width: 4, height: 3, bpp: 8, palette: PALETTE256, stream, topDown });

function rgbRows(body: Uint8Array): number[][] {
  const frame = decodeBmp(body);
  const rgb = toRgb24(frame);
  return Array.from({ length: frame.height }, (_, y) =>
    Array.from({ length: frame.width }, (_, x) => {
      const p = (y * frame.width + x) * 3;
      return rgb[p]!; // the palette's R is the index (paletteColour)
    }),
  );
}

describe('BMP RLE8 and RLE4', () => {
  it('a 640x480 RLE8 frame decodes to its exact pixels (it was refused before)', () => {
    const [variant] = rleVariants(640, 480);
    const frame = decodeBmp(variant!.body);
    assert.deepEqual([frame.width, frame.height, frame.format], [640, 480, 'rgb24']);
    assert.deepEqual(toRgb24(frame), variant!.expected.rgb);
    assert.ok(variant!.body.length < (640 * 480) / 2, 'the stream is compressed');
    assert.deepEqual(probeEncoded(variant!.body), { kind: 'bmp', width: 640, height: 480 });
  });

  it('RLE4 at odd widths, both row orders, exact', () => {
    for (const width of [1, 2, 3, 29, 31]) {
      for (const variant of rleVariants(width, 5).filter((v) => v.name.includes('RLE4'))) {
        assert.deepEqual(toRgb24(decodeBmp(variant.body)), variant.expected.rgb, `${variant.name} width ${width}`);
      }
    }
  });

  it('RLE4 runs alternate their two indexes; literal runs are padded to 16 bits', () => {
    // Bottom row: a run of 5 alternating 1 and 2, a literal of 3 nibbles (2 bytes), end of line. Top row: a literal
    // of 4, a run of 3 x 10, the last pixel skipped by end of bitmap.
    const stream = [5, 0x12, 0, 3, 0x34, 0x50, 0, 0, 0, 4, 0x67, 0x89, 3, 0xaa, 0, 1];
    const body = rleBmp({ width: 8, height: 2, bpp: 4, palette: PALETTE16, stream });
    assert.deepEqual(rgbRows(body), [
      [6, 7, 8, 9, 10, 10, 10, 0],
      [1, 2, 1, 2, 1, 3, 4, 5],
    ]);
  });

  it('delta and early end-of-line skip pixels, which keep palette index 0 (as OpenCV leaves them)', () => {
    // Bottom row: 2 x index 7, end of line. Middle row: delta (+3, +1) lands on the top row at x=3: index 9.
    const body = small8([2, 7, 0, 0, 0, 2, 3, 1, 1, 9, 0, 1]);
    assert.deepEqual(rgbRows(body), [
      [0, 0, 0, 9],
      [0, 0, 0, 0],
      [7, 7, 0, 0],
    ]);
    // The same stream top-down: the first stored row is the top one.
    assert.deepEqual(rgbRows(small8([2, 7, 0, 0, 0, 2, 3, 1, 1, 9, 0, 1], true)), [
      [7, 7, 0, 0],
      [0, 0, 0, 0],
      [0, 0, 0, 9],
    ]);
  });

  it('a stream that ends every row but omits end-of-bitmap is complete', () => {
    assert.deepEqual(rgbRows(small8([4, 1, 0, 0, 4, 2, 0, 0, 4, 3, 0, 0])), [
      [3, 3, 3, 3],
      [2, 2, 2, 2],
      [1, 1, 1, 1],
    ]);
  });

  it('hostile streams are HX_ERR_MEDIA_UNDECODABLE with the reason', () => {
    undecodable(small8([5, 1, 0, 1]), /run of 5 pixels at \(0, 0\) passes the end of its 4-pixel row/);
    undecodable(small8([3, 1, 2, 1, 0, 1]), /run of 2 pixels at \(3, 0\) passes the end/);
    undecodable(small8([0, 5, 1, 2, 3, 4, 5, 0, 0, 1]), /literal run of 5 pixels/);
    undecodable(small8([0, 0, 0, 0, 0, 0, 1, 1, 0, 1]), /past the last row/);
    undecodable(small8([0, 0, 0, 0, 0, 0, 0, 0]), /end of line lies past the last row/);
    undecodable(small8([0, 2, 5, 0, 0, 1]), /delta moves to \(5, 0\), outside the 4x3 image/);
    undecodable(small8([0, 2, 0, 3, 0, 1]), /delta moves to \(0, 3\)/);
    undecodable(small8([0, 2, 255, 255, 1, 1]), /delta moves/);
    undecodable(small8([4, 1, 0, 0]), /ends before its end-of-bitmap marker/);
    undecodable(small8([4, 1, 0, 2, 1]), /ends inside a delta/);
    undecodable(small8([0, 4, 1, 2]), /ends inside a literal run/);
    undecodable(small8([]), /ends before its end-of-bitmap/);
    undecodable(small8([4]), /ends before its end-of-bitmap/);
    const rle4 = (stream: number[]) => rleBmp({ width: 3, height: 1, bpp: 4, palette: PALETTE16, stream });
    undecodable(rle4([4, 0x11, 0, 1]), /run of 4 pixels/);
    undecodable(rle4([0, 4, 0x12, 0x34, 0, 1]), /literal run of 4 pixels/);
    undecodable(rle4([0, 3, 0x12]), /ends inside a literal run/);
    // A pixel offset past the end of the file.
    const cut = small8([4, 1, 0, 1]);
    Buffer.from(cut.buffer).writeUInt32LE(cut.length + 10, 10);
    undecodable(cut, /pixel data is missing/);
  });

  it('random streams decode or are refused with the one error, never anything else', () => {
    let seed = 4242; // fixed: the same streams every run
    const random = (n: number) => {
      seed = (seed * 1103515245 + 12345) & 0x7fffffff;
      return seed % n;
    };
    const outcomes = new Set<string>();
    for (let k = 0; k < 2000; k++) {
      const bpp = k % 2 === 0 ? 8 : 4;
      // Mostly escape codes and short counts, so that every path is taken.
      const stream = Array.from({ length: 2 + random(60) }, () => (random(3) === 0 ? random(4) : random(256)));
      const body = rleBmp({ width: 1 + random(12), height: 1 + random(6), bpp, palette: PALETTE16, stream });
      try {
        const frame = decodeBmp(body);
        assert.equal(frame.data.length, frame.width * frame.height * 3);
        outcomes.add('decoded');
      } catch (error) {
        assert.ok(isHxError(error) && error.code === 'HX_ERR_MEDIA_UNDECODABLE', String(error));
        outcomes.add('refused');
      }
    }
    assert.deepEqual([...outcomes].sort(), ['decoded', 'refused']);
  });

  it('the encoder in test/helpers round-trips what the decoder reads (runs and literals both used)', () => {
    const width = 61;
    const indices = Array.from({ length: width * 2 }, (_, p) => rleIndex(p % width, Math.floor(p / width), 256));
    const stream = encodeRle(indices, width, 2, 8);
    assert.ok(stream.length < indices.length, 'compressed');
    const body = rleBmp({ width, height: 2, bpp: 8, palette: PALETTE256, stream });
    assert.deepEqual(
      rgbRows(body).flat(),
      indices.map((i) => paletteColour(i)[0]),
    );
  });
});

describe('BMP headers: the probe refuses what decodeBmp cannot do, before reading pixels', () => {
  const header = (bpp: number, compression: number, masks?: number[]) =>
    writeBmp({ width: 64, height: 64, bpp: bpp as 8, compression, masks, palette: [0, 0, 0], pixel: () => 0 }).subarray(
      0,
      70,
    );
  const probeFails = (body: Uint8Array, why: RegExp) =>
    assert.throws(() => probeEncoded(body), { code: 'HX_ERR_MEDIA_UNDECODABLE', message: why });

  it('accepts RLE8, RLE4 and bit fields at 16 and 32 bits from the header alone', () => {
    for (const [bpp, compression, masks] of [
      [8, 1],
      [4, 2],
      [16, 3, [0xf00, 0xf0, 0xf]],
      [32, 3, [0x3ff00000, 0xffc00, 0x3ff]],
      [32, 6, [0xff0000, 0xff00, 0xff, 0xff000000]],
    ] as Array<[number, number, number[]?]>) {
      assert.deepEqual(probeEncoded(header(bpp, compression, masks)), { kind: 'bmp', width: 64, height: 64 });
    }
  });

  it('refuses JPEG/PNG in BMP, mismatched RLE depths, 24-bit bit fields and broken masks', () => {
    probeFails(header(24, 4), /compression 4 \(JPEG or PNG in a BMP\)/);
    probeFails(header(24, 5), /compression 5/);
    probeFails(header(4, 1), /compression 1 with 4 bits per pixel/);
    probeFails(header(8, 2), /compression 2 with 8 bits per pixel/);
    probeFails(header(24, 3, [0xff0000, 0xff00, 0xff]), /compression 3 with 24 bits/);
    probeFails(header(2, 0), /2 bits per pixel/);
    probeFails(header(16, 3, [0xf0f0, 0x0f00, 0x000f]), /0xf0f0 is not one run of bits/);
    probeFails(header(16, 3, [0xff0000, 0xff00, 0xff]), /wider than 16 bits/);
    probeFails(header(32, 3, [0, 0, 0]), /all zero/);
    probeFails(header(16, 3, [0xf800, 0x7e0, 0x1f]).subarray(0, 60), /masks are truncated/);
  });

  it('bit-field channels: widened by repeating bits, a zero mask reads 0', () => {
    const body = writeBmp({
      width: 2,
      height: 1,
      bpp: 16,
      compression: 3,
      masks: [0x0f00, 0x00f0, 0],
      pixel: (x) => (x === 0 ? 0x0a50 : 0x0f0f),
    });
    assert.deepEqual(Array.from(toRgb24(decodeBmp(body))), [0xaa, 0x55, 0, 0xff, 0x00, 0]);
  });
});

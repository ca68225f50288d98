import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { toRgb24 } from '../src/contract/frame.js';
import { isHxError } from '../src/errors.js';
import { decodeBmp } from '../src/inference/bmp.js';
import { decodeFrame } from '../src/inference/decode.js';
import { probeEncoded, probeRaw, sniffKind } from '../src/inference/probe.js';
import { encodeBmp, encodeRaw } from '../src/pipeline/pixel-encoders.js';
import { comparePixels, gradient, HEIGHT, paletteColour, paletteImage, WIDTH, writeBmp } from './helpers/images.js';
import { writeJpeg } from './helpers/jpeg-writer.js';
import { writePng } from './helpers/png-writer.js';

/**
 * Unit tests of probe.ts and decode.ts for the cases that are awkward over HTTP: odd BMP layouts, the exact
 * precedence of raw geometry, and that BMP and raw bodies are served in place rather than copied.
 */

function throwsCode(fn: () => unknown, code: string, message?: RegExp): void {
  assert.throws(fn, (error: unknown) => {
    assert.ok(isHxError(error), String(error));
    assert.equal(error.code, code);
    if (message) assert.match(error.message, message);
    return true;
  });
}

describe('decodeBmp', () => {
  const colour = gradient();

  it('serves 24-bit rows in place: the same buffer, a negative stride for bottom-up files', () => {
    const body = encodeBmp(colour.rgb, WIDTH, HEIGHT);
    const frame = decodeBmp(body);
    assert.equal(frame.data, body);
    const rowBytes = Math.ceil((WIDTH * 3) / 4) * 4;
    assert.equal(frame.stride, -rowBytes);
    assert.equal(frame.offset, 54 + (HEIGHT - 1) * rowBytes);
    const topDown = decodeBmp(encodeBmp(colour.rgb, WIDTH, HEIGHT, { topDown: true }));
    assert.deepEqual([topDown.offset, topDown.stride], [54, rowBytes]);
  });

  it('expands 1, 4 and 8-bit palettes at widths that need row padding', () => {
    for (const [bpp, colours] of [
      [1, 2],
      [4, 16],
      [8, 256],
    ] as const) {
      for (const width of [1, 3, 9, 33]) {
        const expected = paletteImage(colours, width, 5);
        const body = writeBmp({
          width,
          height: 5,
          bpp,
          palette: Array.from({ length: colours }, (_, i) => paletteColour(i)).flat(),
          pixel: (x, y) => (x * 7 + y * 11) % colours,
        });
        const frame = decodeBmp(body);
        assert.equal(frame.format, 'rgb24');
        assert.equal(comparePixels(toRgb24(frame), expected, { max: 0 }), undefined, `${bpp}-bit, width ${width}`);
      }
    }
  });

  it('reads the palette entries that are stored when fewer than declared; other indexes are black', () => {
    const body = writeBmp({ width: 4, height: 1, bpp: 8, palette: [10, 20, 30, 40, 50, 60], pixel: (x) => x });
    // Declare 256 colours although 2 are stored.
    Buffer.from(body.buffer).writeUInt32LE(256, 46);
    assert.deepEqual(Array.from(toRgb24(decodeBmp(body))), [10, 20, 30, 40, 50, 60, 0, 0, 0, 0, 0, 0]);
  });

  it('maps BI_BITFIELDS masks to the matching in-place format', () => {
    const cases: Array<[number, number[], string]> = [
      [32, [0xff0000, 0xff00, 0xff], 'bgra'],
      [32, [0xff, 0xff00, 0xff0000], 'rgba'],
      [32, [0xff000000, 0xff0000, 0xff00], 'abgr'],
      [32, [0xff00, 0xff0000, 0xff000000], 'argb'],
      [16, [0xf800, 0x07e0, 0x1f], 'rgb565le'],
      [16, [0x7c00, 0x03e0, 0x1f], 'rgb555le'],
    ];
    for (const [bpp, masks, format] of cases) {
      const body = writeBmp({ width: 3, height: 2, bpp: bpp as 16 | 32, compression: 3, masks, pixel: () => 0 });
      assert.equal(decodeBmp(body).format, format, masks.map((m) => m.toString(16)).join(','));
    }
  });

  it('refuses unknown bit depths and truncated files with a reason', () => {
    const twoBit = writeBmp({ width: 4, height: 2, bpp: 8, palette: [0, 0, 0], pixel: () => 0 });
    Buffer.from(twoBit.buffer).writeUInt16LE(2, 28);
    throwsCode(() => decodeBmp(twoBit), 'HX_ERR_MEDIA_UNDECODABLE', /2 bits per pixel/);
    const full = encodeBmp(colour.rgb, WIDTH, HEIGHT);
    throwsCode(() => decodeBmp(full.subarray(0, full.length - 1)), 'HX_ERR_MEDIA_UNDECODABLE', /truncated/);
    throwsCode(() => decodeBmp(full.subarray(0, 30)), 'HX_ERR_MEDIA_UNDECODABLE', /truncated/);
  });

  it('refuses a pixel data offset that points into the header', () => {
    const body = encodeBmp(colour.rgb, 2, 2);
    Buffer.from(body.buffer).writeUInt32LE(20, 10);
    throwsCode(() => decodeBmp(body), 'HX_ERR_MEDIA_UNDECODABLE', /points into the header/);
  });

  it('reads the OS/2 core header height as unsigned', () => {
    const body = writeBmp({ width: 1, height: 40_000, bpp: 24, headerSize: 12, pixel: (_, y) => y & 0xff });
    const frame = decodeBmp(body);
    assert.deepEqual([frame.width, frame.height], [1, 40_000]);
    assert.deepEqual(probeEncoded(body), { kind: 'bmp', width: 1, height: 40_000 });
    const rgb = toRgb24(frame);
    assert.deepEqual(Array.from(rgb.subarray(3 * 300, 3 * 301)), [0, 0, 300 & 0xff]);
  });
});

describe('probeEncoded and sniffKind', () => {
  const jpeg = writeJpeg({ width: 37, height: 21, components: [{ samples: new Uint8Array(37 * 21), h: 1, v: 1 }] });

  it('reads JPEG size and grey flag from the SOF, past APPn segments, fill bytes and stray bytes', () => {
    assert.deepEqual(probeEncoded(jpeg), { kind: 'jpeg', width: 37, height: 21, grey: true });
    const app1 = Uint8Array.of(0xff, 0xe1, 0x00, 0x06, 1, 2, 3, 4);
    const withJunk = Uint8Array.from([...jpeg.subarray(0, 2), ...app1, 0xff, 0xff, 0x00, 0x00, ...jpeg.subarray(2)]);
    assert.deepEqual(probeEncoded(withJunk), { kind: 'jpeg', width: 37, height: 21, grey: true });
  });

  it('reads PNG size and whether the colour type is grey', () => {
    const base = { width: 5, height: 3, bitDepth: 8 } as const;
    assert.deepEqual(probeEncoded(writePng({ ...base, colourType: 0, samples: new Array(15).fill(0) })), {
      kind: 'png',
      width: 5,
      height: 3,
      grey: true,
    });
    assert.deepEqual(probeEncoded(writePng({ ...base, colourType: 4, samples: new Array(30).fill(0) })).grey, true);
    assert.equal(probeEncoded(writePng({ ...base, colourType: 2, samples: new Array(45).fill(0) })).grey, undefined);
  });

  it('refuses a JPEG with no SOF and a header that declares 0 pixels', () => {
    throwsCode(
      () => probeEncoded(jpeg.subarray(0, 10)),
      'HX_ERR_MEDIA_UNDECODABLE',
      /JPEG image could not be decoded: its header is truncated/,
    );
    const zero = Uint8Array.from(jpeg);
    const sof = zero.findIndex((v, i) => v === 0xff && zero[i + 1] === 0xc0);
    zero.set([0, 0], sof + 5);
    throwsCode(() => probeEncoded(zero), 'HX_ERR_MEDIA_UNDECODABLE');
  });

  it('needs a known DIB header size to call "BM..." a BMP', () => {
    assert.equal(sniffKind(encodeBmp(new Uint8Array(3), 1, 1)), 'bmp');
    assert.equal(sniffKind(Buffer.from('BMW parked outside the gate')), undefined);
    assert.equal(sniffKind(Buffer.from('BM')), undefined);
  });
});

describe('probeRaw', () => {
  const bytes = WIDTH * HEIGHT * 3;

  it('takes each field from the first source that states it', () => {
    const info = probeRaw(bytes, [{ width: WIDTH }, { height: String(HEIGHT), width: 99 }, { format: 'RGB24' }, {}]);
    assert.deepEqual(info, { kind: 'raw', width: WIDTH, height: HEIGHT, format: 'rgb24', strideBytes: WIDTH * 3 });
  });

  it('ignores empty values', () => {
    const info = probeRaw(bytes, [
      { width: '', height: '', format: '' },
      { width: WIDTH, height: HEIGHT, format: 'bgr24' },
    ]);
    assert.equal(info.format, 'bgr24');
  });

  it('applies a stride only with the width and format its source describes', () => {
    const configured = { width: 416, height: 416, format: 'bgr24', stride: 1280 };
    // The request overrides width and format: the configured stride does not describe its rows.
    const own = probeRaw(bytes, [{ width: WIDTH, height: HEIGHT, format: 'rgb24' }, configured]);
    assert.equal(own.strideBytes, WIDTH * 3);
    // Same width and format as configured: the configured stride applies.
    assert.equal(probeRaw(1280 * 416, [{ format: 'bgr24' }, configured]).strideBytes, 1280);
    // A stride stated alone (e.g. X-Raw-Stride) applies to the width stated elsewhere.
    assert.equal(
      probeRaw((WIDTH * 3 + 1) * HEIGHT, [{ width: WIDTH, height: HEIGHT, format: 'rgb24' }, { stride: WIDTH * 3 + 1 }])
        .strideBytes,
      WIDTH * 3 + 1,
    );
  });

  it('accepts strides beyond 65535 bytes (wide 32-bit frames)', () => {
    const info = probeRaw(20_000 * 4 + 64, [{ width: 20_000, height: 1, format: 'bgra', stride: 20_000 * 4 + 64 }]);
    assert.equal(info.strideBytes, 80_064);
  });

  it('computes the yuv420p size for odd dimensions and strides', () => {
    // Y: 21 rows of 37; U and V: 11 rows of 19.
    assert.equal(probeRaw(777 + 2 * 11 * 19, [{ width: 37, height: 21, format: 'yuv420p' }]).strideBytes, 37);
    // Y stride 41; chroma stride 21.
    const padded = probeRaw(41 * 21 + 2 * 11 * 21, [{ width: 37, height: 21, format: 'yuv420p', stride: 41 }]);
    assert.equal(padded.strideBytes, 41);
    throwsCode(
      () => probeRaw(777, [{ width: 37, height: 21, format: 'yuv420p' }]),
      'HX_ERR_MEDIA_RAW_SIZE',
      /must be 1195 bytes/,
    );
  });

  it('names what is missing or wrong', () => {
    throwsCode(() => probeRaw(bytes, [{ width: WIDTH }]), 'HX_ERR_MEDIA_RAW_PARAMS', /needs height, format/);
    throwsCode(
      () => probeRaw(bytes, [{ width: WIDTH, height: HEIGHT, format: 'nv12' }]),
      'HX_ERR_MEDIA_RAW_PARAMS',
      /"nv12"/,
    );
    throwsCode(
      () => probeRaw(bytes, [{ width: '1e3', height: HEIGHT, format: 'rgb24' }]),
      'HX_ERR_MEDIA_RAW_PARAMS',
      /width "1e3"/,
    );
    throwsCode(
      () => probeRaw(bytes, [{ width: 70_000, height: 1, format: 'rgb24' }]),
      'HX_ERR_MEDIA_RAW_PARAMS',
      /1 to 65535/,
    );
    throwsCode(
      () => probeRaw(bytes, [{ width: WIDTH, height: HEIGHT, format: 'rgb24', stride: 10 }]),
      'HX_ERR_MEDIA_RAW_PARAMS',
      /stride 10 is less than 111/,
    );
  });
});

describe('decodeFrame', () => {
  it('serves raw bodies in place, padded rows and yuv420p planes included', async () => {
    const colour = gradient();
    const body = encodeRaw(colour.rgb, WIDTH, HEIGHT, 'argb');
    const frame = await decodeFrame(body, probeRaw(body.length, [{ width: WIDTH, height: HEIGHT, format: 'argb' }]));
    assert.equal(frame.data, body);
    assert.equal(comparePixels(toRgb24(frame), colour, { max: 0 }), undefined);
    const yuv = new Uint8Array(41 * 21 + 2 * 21 * 11);
    const planar = await decodeFrame(
      yuv,
      probeRaw(yuv.length, [{ width: 37, height: 21, format: 'yuv420p', stride: 41 }]),
    );
    assert.equal(planar.data, yuv);
    assert.deepEqual(planar.chroma, { uOffset: 41 * 21, vOffset: 41 * 21 + 21 * 11, stride: 21 });
  });

  it('refuses a JPEG over the pixels its header declared (the limit is enforced in libvips too)', async () => {
    const jpeg = writeJpeg({ width: 16, height: 16, components: [{ samples: new Uint8Array(256), h: 1, v: 1 }] });
    await assert.rejects(decodeFrame(jpeg, { kind: 'jpeg', width: 8, height: 8 }), (error: unknown) => {
      assert.ok(isHxError(error));
      assert.equal(error.code, 'HX_ERR_MEDIA_UNDECODABLE');
      return true;
    });
  });
});

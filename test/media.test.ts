import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { encodeBmp, encodeRaw } from '../src/pipeline/pixel-encoders.js';
import { rleBmp } from './helpers/bmp-rle.js';
import { type Answer, assertError, fixture, post } from './helpers/http.js';
import {
  bmpVariants,
  cmykJpeg,
  comparePixels,
  gradient,
  HEIGHT,
  jpegVariants,
  type KnownImage,
  pngVariants,
  rawVariant,
  rawVariants,
  rleVariants,
  through16Bit,
  type Variant,
  WIDTH,
  writeBmp,
} from './helpers/images.js';
import { writeJpeg } from './helpers/jpeg-writer.js';
import { concat, pngHeaderOnly } from './helpers/png-writer.js';
import { doubleUrl, startTestServer, type TestServer } from './helpers/server.js';

/**
 * Media over real HTTP: every format the protocol allows, decoded from known pixels and answered by the echo double
 * (which returns the decoded frame), so each test checks the decoder pixel by pixel; then every way a body can be
 * wrong, with its status and error code.
 */

const ECHO_ROUTE = { path: '/echo', processor: doubleUrl('echo'), options: {} };

// One server for the whole file (starting one costs more than all the requests below).
let server: TestServer;
before(async () => {
  server = await startTestServer({ routes: [ECHO_ROUTE] });
});
after(() => server.close());

const variants: Variant[] = [
  ...(await jpegVariants()),
  cmykJpeg(),
  ...(await pngVariants()),
  ...bmpVariants(),
  ...rawVariants(),
  rawVariant('rgb24', WIDTH * 3 + 5),
  rawVariant('bgra', WIDTH * 4 + 12),
  rawVariant('rgb565le', WIDTH * 2 + 6),
  rawVariant('yuv420p', WIDTH + 3),
];

interface EchoInference {
  extensions: { width: string; height: string; format: string };
  other: { contentBytes: string };
}

interface Echoed {
  width: number;
  height: number;
  format: string;
  rgb: Uint8Array;
}

/** The frame the echo double saw, from a 200 answer. */
function echoed(answer: Answer): Echoed {
  assert.equal(answer.status, 200, answer.text);
  const [inference] = (answer.json as { inferences: EchoInference[] }).inferences;
  assert.ok(inference);
  return {
    width: Number(inference.extensions.width),
    height: Number(inference.extensions.height),
    format: inference.extensions.format,
    rgb: new Uint8Array(Buffer.from(inference.other.contentBytes, 'base64')),
  };
}

function assertPixels(frame: Echoed, expected: KnownImage, tolerance: Variant['tolerance'] = { max: 0 }): void {
  assert.deepEqual([frame.width, frame.height], [expected.width, expected.height]);
  const problem = comparePixels(frame.rgb, expected, tolerance);
  assert.equal(problem, undefined, problem);
}

describe('media: every format decodes to its known pixels', () => {
  it('covers every variant the issue lists', () => {
    const names = variants.map((v) => v.name).join('\n');
    for (const expected of [
      /JPEG baseline 4:2:0/,
      /JPEG progressive 4:4:4/,
      /JPEG baseline grey/,
      /JPEG progressive grey/,
      /JPEG baseline 4:2:2/,
      /PNG grey 8-bit/,
      /PNG RGB 8-bit/,
      /PNG RGBA 8-bit/,
      /PNG RGB 16-bit/,
      /PNG palette 8-bit/,
      /BMP 24-bit bottom-up/,
      /BMP 24-bit top-down/,
      /BMP 32-bit/,
      /BMP 8-bit palette/,
      /BMP 8-bit RLE8\n/,
      /BMP 8-bit RLE8 top-down/,
      /BMP 4-bit RLE4\n/,
      /BMP 16-bit BI_BITFIELDS \(444/,
      /BMP 32-bit BI_BITFIELDS \(10-bit/,
    ]) {
      assert.match(names, expected);
    }
    // The protocol's 11 raw formats, listed here rather than imported so that dropping one from the code fails.
    const rawFormats = 'yuv420p rgb565be rgb565le rgb555be rgb555le rgb24 bgr24 argb rgba abgr bgra'.split(' ');
    for (const format of rawFormats) assert.match(names, new RegExp(`raw ${format}\\b`));
  });

  it('generates what each variant claims to be', () => {
    const byName = new Map(variants.map((v) => [v.name, v.body]));
    const sofOf = (body: Uint8Array): { marker: number; sampling: number[] } => {
      for (let i = 2; i + 9 < body.length; ) {
        const marker = body[i + 1]!;
        if (marker === 0xc0 || marker === 0xc2) {
          const sampling = [];
          for (let c = 0; c < body[i + 9]!; c++) sampling.push(body[i + 11 + c * 3]!);
          return { marker, sampling };
        }
        i += 2 + ((body[i + 2]! << 8) | body[i + 3]!);
      }
      throw new Error('no SOF');
    };
    assert.deepEqual(sofOf(byName.get('JPEG baseline 4:2:0')!), { marker: 0xc0, sampling: [0x22, 0x11, 0x11] });
    assert.deepEqual(sofOf(byName.get('JPEG baseline 4:4:4')!), { marker: 0xc0, sampling: [0x11, 0x11, 0x11] });
    assert.deepEqual(sofOf(byName.get('JPEG progressive 4:2:0')!), { marker: 0xc2, sampling: [0x22, 0x11, 0x11] });
    assert.deepEqual(sofOf(byName.get('JPEG progressive 4:4:4')!), { marker: 0xc2, sampling: [0x11, 0x11, 0x11] });
    assert.deepEqual(sofOf(byName.get('JPEG baseline grey')!), { marker: 0xc0, sampling: [0x11] });
    assert.deepEqual(sofOf(byName.get('JPEG progressive grey')!), { marker: 0xc2, sampling: [0x11] });
    assert.deepEqual(sofOf(byName.get('JPEG baseline 4:2:2 (h2v1)')!).sampling, [0x21, 0x11, 0x11]);
    assert.deepEqual(sofOf(byName.get('JPEG baseline 4:4:0 (h1v2)')!).sampling, [0x12, 0x11, 0x11]);
    assert.deepEqual(sofOf(byName.get('JPEG baseline 4:1:1 (h4v1)')!).sampling, [0x41, 0x11, 0x11]);
    assert.equal(sofOf(byName.get('JPEG CMYK')!).sampling.length, 4);
    // PNG IHDR: bit depth at byte 24, colour type at 25, interlace at 28.
    const ihdr = (name: string) => {
      const b = byName.get(`PNG ${name}`)!;
      return [b[24], b[25], b[28]];
    };
    assert.deepEqual(ihdr('grey 8-bit'), [8, 0, 0]);
    assert.deepEqual(ihdr('grey 16-bit'), [16, 0, 0]);
    assert.deepEqual(ihdr('grey + alpha 8-bit'), [8, 4, 0]);
    assert.deepEqual(ihdr('RGB 16-bit'), [16, 2, 0]);
    assert.deepEqual(ihdr('RGBA 8-bit'), [8, 6, 0]);
    assert.deepEqual(ihdr('palette 8-bit'), [8, 3, 0]);
    assert.deepEqual(ihdr('palette 1-bit'), [1, 3, 0]);
    assert.deepEqual(ihdr('RGB 8-bit Adam7 interlaced'), [8, 2, 1]);
    // BMP: bits per pixel at 28, signed height at 22 (negative = top-down).
    const bmp = (name: string) => {
      const view = Buffer.from(byName.get(`BMP ${name}`)!);
      return [view.readUInt16LE(28), Math.sign(view.readInt32LE(22)), view.readUInt32LE(30)];
    };
    assert.deepEqual(bmp('24-bit bottom-up'), [24, 1, 0]);
    assert.deepEqual(bmp('24-bit top-down'), [24, -1, 0]);
    assert.deepEqual(bmp('32-bit'), [32, 1, 0]);
    assert.deepEqual(bmp('8-bit palette'), [8, 1, 0]);
    assert.deepEqual(bmp('32-bit BI_BITFIELDS (RGBA masks)'), [32, 1, 3]);
    assert.deepEqual(bmp('8-bit RLE8'), [8, 1, 1]);
    assert.deepEqual(bmp('4-bit RLE4 top-down'), [4, -1, 2]);
  });

  for (const variant of variants) {
    it(`${variant.name}: 200 and the known pixels`, async () => {
      const frame = echoed(await post(server.at('/echo'), variant.body, { 'content-type': variant.contentType }));
      assertPixels(frame, variant.expected, variant.tolerance);
      if (variant.frameFormat) assert.equal(frame.format, variant.frameFormat, 'served in place, unconverted');
    });
  }

  it('Content-Type is a hint: JPEG bytes decode whatever the header says, or without one', async () => {
    const jpeg = variants.find((v) => v.name === 'JPEG baseline 4:4:4')!;
    for (const headers of <Array<Record<string, string>>>[
      { 'content-type': 'image/png' },
      { 'content-type': 'application/octet-stream' },
      { 'content-type': 'image/jpg' },
      { 'content-type': 'image/bmp' },
      {},
    ]) {
      const frame = echoed(await post(server.at('/echo'), jpeg.body, headers));
      assertPixels(frame, jpeg.expected, jpeg.tolerance);
    }
  });

  it('PNG and BMP bytes decode when declared as something else', async () => {
    const png = variants.find((v) => v.name === 'PNG RGB 8-bit')!;
    const bmp = variants.find((v) => v.name === 'BMP 24-bit bottom-up')!;
    assertPixels(echoed(await post(server.at('/echo'), png.body, { 'content-type': 'image/jpeg' })), png.expected);
    assertPixels(echoed(await post(server.at('/echo'), bmp.body, { 'content-type': 'image/png' })), bmp.expected);
    assertPixels(echoed(await post(server.at('/echo'), bmp.body, { 'content-type': 'text/plain' })), bmp.expected);
  });

  it('decodes a real pipeline frame (416x416 JPEG)', async () => {
    const frame = echoed(
      await post(server.at('/echo'), fixture('frames/street100_416.jpg'), { 'content-type': 'image/jpeg' }),
    );
    assert.deepEqual([frame.width, frame.height, frame.rgb.length], [416, 416, 416 * 416 * 3]);
  });
});

describe('media: raw frame geometry (protocol.md "Raw frames")', () => {
  let configured: TestServer;
  const colour = gradient();
  const bgr = encodeRaw(colour.rgb, WIDTH, HEIGHT, 'bgr24');
  const rgb565 = encodeRaw(colour.rgb, WIDTH, HEIGHT, 'rgb565le');
  before(async () => {
    configured = await startTestServer({
      routes: [ECHO_ROUTE],
      workers: 1,
      raw: { width: WIDTH, height: HEIGHT, format: 'rgb565le', strideBytes: WIDTH * 2 + 4 },
      maxPixels: WIDTH * HEIGHT,
    });
  });
  after(() => configured.close());

  const raw = 'image/x-raw';
  const xRaw = (width: number, height: number, format: string, stride?: number): Record<string, string> => ({
    'x-raw-width': String(width),
    'x-raw-height': String(height),
    'x-raw-format': format,
    ...(stride === undefined ? {} : { 'x-raw-stride': String(stride) }),
  });

  it('takes the geometry from the query', async () => {
    const frame = echoed(
      await post(server.at(`/echo?width=${WIDTH}&height=${HEIGHT}&format=bgr24`), bgr, { 'content-type': raw }),
    );
    assert.equal(frame.format, 'bgr24');
    assertPixels(frame, colour);
  });

  it('takes the geometry from X-Raw-* headers', async () => {
    const frame = echoed(await post(server.at('/echo'), bgr, { 'content-type': raw, ...xRaw(WIDTH, HEIGHT, 'bgr24') }));
    assert.equal(frame.format, 'bgr24');
    assertPixels(frame, colour);
  });

  it('Content-Type parameters beat the query, which beats the headers', async () => {
    const transposed = `width=${HEIGHT}&height=${WIDTH}`;
    const ct = echoed(
      await post(server.at(`/echo?${transposed}&format=rgb24`), bgr, {
        'content-type': `${raw}; width=${WIDTH}; height=${HEIGHT}; format=BGR24`,
        ...xRaw(HEIGHT, WIDTH, 'rgba'),
      }),
    );
    assert.equal(ct.format, 'bgr24');
    assertPixels(ct, colour);
    const query = echoed(
      await post(server.at(`/echo?width=${WIDTH}&height=${HEIGHT}&format=bgr24`), bgr, {
        'content-type': raw,
        ...xRaw(HEIGHT, WIDTH, 'rgb24'),
      }),
    );
    assert.equal(query.format, 'bgr24');
    assertPixels(query, colour);
  });

  it('takes each field from the first source that states it', async () => {
    const padded = rawVariant('rgb24', WIDTH * 3 + 5);
    const frame = echoed(
      await post(server.at(`/echo?height=${HEIGHT}`), padded.body, {
        'content-type': `${raw}; width=${WIDTH}`,
        'x-raw-format': 'rgb24',
        'x-raw-stride': String(WIDTH * 3 + 5),
      }),
    );
    assert.equal(frame.format, 'rgb24');
    assertPixels(frame, colour);
  });

  it('falls back to the configured geometry, stride included', async () => {
    const padded = rawVariant('rgb565le', WIDTH * 2 + 4);
    const frame = echoed(await post(configured.at('/echo'), padded.body, { 'content-type': raw }));
    assert.equal(frame.format, 'rgb565le');
    assertPixels(frame, through16Bit(colour, 6));
  });

  it('a request that states its own width does not inherit the configured stride', async () => {
    const frame = echoed(
      await post(configured.at(`/echo?width=${WIDTH}&height=${HEIGHT}&format=bgr24`), bgr, { 'content-type': raw }),
    );
    assert.equal(frame.format, 'bgr24');
    assertPixels(frame, colour);
    // Same width as configured: the configured stride still describes the rows.
    const padded = rawVariant('rgb565le', WIDTH * 2 + 4);
    assertPixels(
      echoed(await post(configured.at('/echo?format=rgb565le'), padded.body, { 'content-type': raw })),
      through16Bit(colour, 6),
    );
    assert.equal(rgb565.length, WIDTH * HEIGHT * 2);
  });

  it('a body of the wrong length is 400 HX_ERR_MEDIA_RAW_SIZE stating the expected byte count', async () => {
    const cases: Array<[string, Uint8Array, number]> = [
      ['rgb24', bgr.subarray(1), WIDTH * HEIGHT * 3],
      ['bgra', bgr, WIDTH * HEIGHT * 4],
      ['rgb565be', bgr, WIDTH * HEIGHT * 2],
      ['yuv420p', bgr, WIDTH * HEIGHT + 2 * 19 * 11],
    ];
    for (const [format, body, expected] of cases) {
      const answer = await post(server.at('/echo'), body, {
        'content-type': `${raw}; width=${WIDTH}; height=${HEIGHT}; format=${format}`,
      });
      assertError(answer, 400, 'HX_ERR_MEDIA_RAW_SIZE');
      const message = (answer.json as { message: string }).message;
      assert.match(message, new RegExp(`must be ${expected} bytes`), message);
      assert.match(message, new RegExp(`body has ${body.length}\\b`), message);
    }
    const strided = await post(server.at('/echo'), bgr, {
      'content-type': `${raw}; width=${WIDTH}; height=${HEIGHT}; format=bgr24; stride=${WIDTH * 3 + 1}`,
    });
    assertError(strided, 400, 'HX_ERR_MEDIA_RAW_SIZE');
    assert.match(
      (strided.json as { message: string }).message,
      new RegExp(`must be ${(WIDTH * 3 + 1) * HEIGHT} bytes`),
    );
  });

  it('missing geometry is 400 HX_ERR_MEDIA_RAW_PARAMS naming what is missing', async () => {
    const none = await post(server.at('/echo'), bgr, { 'content-type': raw });
    assertError(none, 400, 'HX_ERR_MEDIA_RAW_PARAMS');
    assert.match((none.json as { message: string }).message, /needs width, height, format/);
    const some = await post(server.at(`/echo?width=${WIDTH}`), bgr, { 'content-type': `${raw}; format=bgr24` });
    assertError(some, 400, 'HX_ERR_MEDIA_RAW_PARAMS');
    assert.match((some.json as { message: string }).message, /needs height:/);
  });

  it('an unknown format or a bad number is 400 HX_ERR_MEDIA_RAW_PARAMS', async () => {
    for (const params of [
      `width=${WIDTH}; height=${HEIGHT}; format=nv12`,
      `width=0; height=${HEIGHT}; format=bgr24`,
      `width=37.5; height=${HEIGHT}; format=bgr24`,
      `width=${WIDTH}; height=-21; format=bgr24`,
      `width=${WIDTH}; height=${HEIGHT}; format=bgr24; stride=${WIDTH * 3 - 1}`,
    ]) {
      assertError(
        await post(server.at('/echo'), bgr, { 'content-type': `${raw}; ${params}` }),
        400,
        'HX_ERR_MEDIA_RAW_PARAMS',
      );
    }
  });

  it('maxPixels is inclusive and applies to every kind of body, raw included', async () => {
    const colour = gradient();
    const fits = rawVariant('rgb24');
    assertPixels(echoed(await post(configured.at('/echo'), fits.body, { 'content-type': fits.contentType })), colour);
    const tall = gradient(WIDTH, HEIGHT + 1);
    const bodies: Array<[Uint8Array, string]> = [
      [encodeRaw(tall.rgb, WIDTH, HEIGHT + 1, 'rgb24'), `${raw}; width=${WIDTH}; height=${HEIGHT + 1}; format=rgb24`],
      [encodeBmp(tall.rgb, WIDTH, HEIGHT + 1), 'image/bmp'],
      [
        writeJpeg({
          width: WIDTH,
          height: HEIGHT + 1,
          components: [{ samples: new Uint8Array(WIDTH * (HEIGHT + 1)), h: 1, v: 1 }],
        }),
        'image/jpeg',
      ],
    ];
    for (const [body, type] of bodies) {
      const answer = await post(configured.at('/echo'), body, { 'content-type': type });
      assertError(answer, 413, 'HX_ERR_LIMIT_TOO_MANY_PIXELS');
      assert.match(
        (answer.json as { message: string }).message,
        new RegExp(`${WIDTH}x${HEIGHT + 1} = ${WIDTH * (HEIGHT + 1)} pixels, over maxPixels \\(${WIDTH * HEIGHT}\\)`),
      );
    }
  });

  it('raw bytes are never sniffed: a JPEG declared image/x-raw is checked as raw', async () => {
    const jpeg = fixture('frames/street100_416.jpg');
    const answer = await post(server.at('/echo'), jpeg, {
      'content-type': `${raw}; width=416; height=416; format=bgr24`,
    });
    assertError(answer, 400, 'HX_ERR_MEDIA_RAW_SIZE');
  });
});

describe('media: bad bodies', () => {
  const colour = gradient();
  const jpeg = fixture('frames/street100_416.jpg');
  /** Index of a JPEG marker's 0xFF byte. */
  const markerAt = (body: Uint8Array, marker: number): number => {
    for (let i = 2; i + 3 < body.length; ) {
      if (body[i + 1] === marker) return i;
      i += 2 + ((body[i + 2]! << 8) | body[i + 3]!);
    }
    throw new Error(`no marker ${marker.toString(16)}`);
  };

  it('undecodable bytes declared as an image are 400 HX_ERR_MEDIA_UNDECODABLE', async () => {
    const junk = Buffer.from('this is not an image at all, just some bytes');
    for (const type of ['image/jpeg', 'image/png', 'image/bmp', 'application/octet-stream']) {
      assertError(await post(server.at('/echo'), junk, { 'content-type': type }), 400, 'HX_ERR_MEDIA_UNDECODABLE');
    }
    assertError(await post(server.at('/echo'), junk), 400, 'HX_ERR_MEDIA_UNDECODABLE');
  });

  it('text declared text/plain is 415 HX_ERR_MEDIA_UNSUPPORTED_TYPE', async () => {
    // "BM" is also the BMP magic: a text that starts with it is still text.
    assertError(
      await post(server.at('/echo'), 'BMW parked outside, 3 people', { 'content-type': 'text/plain' }),
      415,
      'HX_ERR_MEDIA_UNSUPPORTED_TYPE',
    );
    // A format we do not decode, declared as itself, is unsupported; declared as a JPEG it is undecodable.
    const gif = Buffer.from('R0lGODlhAQABAIAAAP///wAAACH5BAEAAAAALAAAAAABAAEAAAICRAEAOw==', 'base64');
    assertError(
      await post(server.at('/echo'), gif, { 'content-type': 'image/gif' }),
      415,
      'HX_ERR_MEDIA_UNSUPPORTED_TYPE',
    );
    assertError(await post(server.at('/echo'), gif, { 'content-type': 'image/jpeg' }), 400, 'HX_ERR_MEDIA_UNDECODABLE');
    for (const type of ['text/plain', 'application/json', 'video/mp4']) {
      assertError(
        await post(server.at('/echo'), 'hello', { 'content-type': type }),
        415,
        'HX_ERR_MEDIA_UNSUPPORTED_TYPE',
      );
    }
  });

  it('an empty body is 400 HX_ERR_MEDIA_EMPTY_BODY', async () => {
    for (const headers of <Array<Record<string, string>>>[
      { 'content-type': 'image/jpeg' },
      { 'content-type': 'image/x-raw' },
      {},
    ]) {
      assertError(await post(server.at('/echo'), new Uint8Array(0), headers), 400, 'HX_ERR_MEDIA_EMPTY_BODY');
    }
  });

  it('a truncated JPEG is 400 HX_ERR_MEDIA_UNDECODABLE, wherever it is cut', async () => {
    const sos = markerAt(jpeg, 0xda);
    for (const end of [3, 20, sos, sos + 30, jpeg.length >> 1, jpeg.length - 2]) {
      const answer = await post(server.at('/echo'), jpeg.subarray(0, end), { 'content-type': 'image/jpeg' });
      assertError(answer, 400, 'HX_ERR_MEDIA_UNDECODABLE');
      assert.match((answer.json as { message: string }).message, /JPEG/);
    }
  });

  it('a corrupt JPEG (bogus sampling factors, Huffman table, component count) is 400', async () => {
    const sof = markerAt(jpeg, 0xc0);
    const dht = markerAt(jpeg, 0xc4);
    const corrupt = (at: number, value: number): Uint8Array => {
      const copy = Uint8Array.from(jpeg);
      copy[at] = value;
      return copy;
    };
    const badTable = Uint8Array.from(jpeg);
    badTable.fill(0xff, dht + 5, dht + 21);
    for (const body of [corrupt(sof + 11, 0x00), corrupt(sof + 9, 0), corrupt(sof + 11, 0x55), badTable]) {
      assertError(
        await post(server.at('/echo'), body, { 'content-type': 'image/jpeg' }),
        400,
        'HX_ERR_MEDIA_UNDECODABLE',
      );
    }
  });

  it('a JPEG whose scan data is damaged is 400, not a frame padded with grey', async () => {
    const sos = markerAt(jpeg, 0xda);
    const garbled = Uint8Array.from(jpeg);
    for (let i = sos + 2000; i < sos + 2400; i++) garbled[i] = (i * 7919) & 0xff;
    const zeroed = Uint8Array.from(jpeg);
    zeroed.fill(0, sos + 2000, jpeg.length - 2);
    // A whole image claimed by the header, one MCU of data, then EOI.
    const short = writeJpeg({ width: 8, height: 8, components: [{ samples: new Uint8Array(64).fill(9), h: 1, v: 1 }] });
    short.set([0x00, 0x40, 0x00, 0x40], markerAt(short, 0xc0) + 5);
    for (const body of [garbled, zeroed, short]) {
      const answer = await post(server.at('/echo'), body, { 'content-type': 'image/jpeg' });
      assertError(answer, 400, 'HX_ERR_MEDIA_UNDECODABLE');
      assert.match((answer.json as { message: string }).message, /premature end/);
    }
  });

  it('a JPEG with harmless defects (bytes between markers, data after EOI) still decodes', async () => {
    const variant = variants.find((v) => v.name === 'JPEG baseline 4:4:4')!;
    const sof = markerAt(variant.body, 0xc0);
    const extraneous = concat([variant.body.subarray(0, sof), Uint8Array.of(0, 0, 0), variant.body.subarray(sof)]);
    const trailing = concat([variant.body, Buffer.from('trailing bytes after EOI')]);
    for (const body of [extraneous, trailing]) {
      assertPixels(
        echoed(await post(server.at('/echo'), body, { 'content-type': 'image/jpeg' })),
        variant.expected,
        variant.tolerance,
      );
    }
  });

  it('a truncated or corrupt PNG is 400 HX_ERR_MEDIA_UNDECODABLE', async () => {
    const png = variants.find((v) => v.name === 'PNG RGB 8-bit')!.body;
    const flipped = Uint8Array.from(png);
    flipped[60]! ^= 0xff;
    for (const body of [png.subarray(0, 20), png.subarray(0, png.length - 30), flipped]) {
      assertError(
        await post(server.at('/echo'), body, { 'content-type': 'image/png' }),
        400,
        'HX_ERR_MEDIA_UNDECODABLE',
      );
    }
  });

  it('a truncated, hostile RLE or unsupported BMP is 400 HX_ERR_MEDIA_UNDECODABLE', async () => {
    const bmp = encodeBmp(colour.rgb, WIDTH, HEIGHT);
    const palette = [0, 0, 0, 255, 255, 255];
    const pastRow = rleBmp({ width: 4, height: 2, bpp: 8, palette, stream: [9, 1, 0, 1] });
    const delta = rleBmp({ width: 4, height: 2, bpp: 4, palette, stream: [0, 2, 0, 9, 0, 1] });
    const cutRle = rleBmp({ width: 4, height: 2, bpp: 8, palette, stream: [4, 1, 0, 0] });
    const jpegInBmp = writeBmp({ width: 4, height: 2, bpp: 24, compression: 4, pixel: () => 0 });
    const twoBit = writeBmp({ width: 4, height: 2, bpp: 8, palette: [0, 0, 0], pixel: () => 0 });
    Buffer.from(twoBit.buffer).writeUInt16LE(2, 28);
    for (const body of [
      bmp.subarray(0, 20),
      bmp.subarray(0, 60),
      bmp.subarray(0, bmp.length - 1),
      pastRow,
      delta,
      cutRle,
      jpegInBmp,
      twoBit,
    ]) {
      const answer = await post(server.at('/echo'), body, { 'content-type': 'image/bmp' });
      assertError(answer, 400, 'HX_ERR_MEDIA_UNDECODABLE');
      assert.match((answer.json as { message: string }).message, /BMP/);
    }
  });

  it('a 640x480 RLE8 BMP is 200 with its pixels', async () => {
    const [variant] = rleVariants(640, 480);
    assertPixels(
      echoed(await post(server.at('/echo'), variant!.body, { 'content-type': 'image/bmp' })),
      variant!.expected,
      variant!.tolerance,
    );
  });

  it('an image whose header declares too many pixels is 413 before decoding, and the server keeps serving', async () => {
    const hugeJpeg = Uint8Array.from(jpeg);
    const sof = markerAt(hugeJpeg, 0xc0);
    hugeJpeg.set([0xea, 0x60, 0xea, 0x60], sof + 5); // 60000 x 60000
    const hugeBmp = encodeBmp(colour.rgb, 1, 1);
    Buffer.from(hugeBmp.buffer).writeInt32LE(60000, 18);
    Buffer.from(hugeBmp.buffer).writeInt32LE(-60000, 22);
    for (const body of [pngHeaderOnly(60000, 60000), hugeJpeg, hugeBmp]) {
      const answer = await post(server.at('/echo'), body, { 'content-type': 'image/png' });
      assertError(answer, 413, 'HX_ERR_LIMIT_TOO_MANY_PIXELS');
      assert.match((answer.json as { message: string }).message, /60000x60000 = 3600000000 pixels/);
    }
    const png = variants.find((v) => v.name === 'PNG RGB 8-bit')!;
    assertPixels(echoed(await post(server.at('/echo'), png.body, { 'content-type': 'image/png' })), png.expected);
  });
});

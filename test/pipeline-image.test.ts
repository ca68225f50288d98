import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { RAW_FORMAT_NAMES } from '../src/contract/pixel-format.js';
import {
  avaTopology,
  json,
  quadrantPng,
  runInProcess,
  startDouble,
  type TempDir,
  tempDir,
} from './helpers/pipeline.js';
import { doubleUrl, startTestServer, type TestServer } from './helpers/server.js';

/**
 * What the runner sends, checked on the server side: our server decodes each image and the echo double answers the
 * decoded RGB24 frame with its size. The source is an 80x60 frame of four flat quadrants (red, green / blue, white).
 */
const RED = [255, 0, 0];
const GREEN = [0, 255, 0];
const BLUE = [0, 0, 255];
const WHITE = [255, 255, 255];
const BLACK = [0, 0, 0];

interface Echo {
  width: number;
  height: number;
  rgb: Buffer;
}

describe('scale modes and image formats, decoded by our server', () => {
  let server: TestServer;
  let dir: TempDir;
  let quadrants: string;
  before(async () => {
    server = await startTestServer({
      workers: 1,
      routes: [{ path: '/echo', processor: doubleUrl('echo'), options: {} }],
    });
    dir = tempDir();
    quadrants = await quadrantPng(dir);
  });
  after(async () => {
    await server.close();
    dir.remove();
  });

  async function send(image: Record<string, unknown>): Promise<Echo> {
    const { messages, counters } = await runInProcess(avaTopology({ image }), {
      rtspUrl: quadrants,
      inferencingUrl: server.at('/echo'),
    });
    assert.deepEqual([counters.read, counters.sent, counters.answered, counters.errors], [1, 1, 1, 0]);
    assert.equal(messages.length, 1);
    const inference = (
      messages[0]!.body.inferences as { other: { contentBytes: string }; extensions: Record<string, string> }[]
    )[0]!;
    return {
      width: Number(inference.extensions.width),
      height: Number(inference.extensions.height),
      rgb: Buffer.from(inference.other.contentBytes, 'base64'),
    };
  }

  function pixel(echo: Echo, x: number, y: number): number[] {
    const i = (Math.floor(y) * echo.width + Math.floor(x)) * 3;
    return [echo.rgb[i]!, echo.rgb[i + 1]!, echo.rgb[i + 2]!];
  }

  function assertColour(echo: Echo, x: number, y: number, expected: number[], tolerance: number, what: string): void {
    const actual = pixel(echo, x, y);
    const off = Math.max(...actual.map((v, i) => Math.abs(v - expected[i]!)));
    assert.ok(off <= tolerance, `${what} at (${x},${y}): ${actual} is not ${expected} (±${tolerance})`);
  }

  /** The four quadrant centres of the content rectangle. */
  function assertQuadrants(
    echo: Echo,
    left: number,
    top: number,
    w: number,
    h: number,
    tolerance: number,
    what: string,
  ) {
    assertColour(echo, left + w / 4, top + h / 4, RED, tolerance, `${what} top-left`);
    assertColour(echo, left + (3 * w) / 4, top + h / 4, GREEN, tolerance, `${what} top-right`);
    assertColour(echo, left + w / 4, top + (3 * h) / 4, BLUE, tolerance, `${what} bottom-left`);
    assertColour(echo, left + (3 * w) / 4, top + (3 * h) / 4, WHITE, tolerance, `${what} bottom-right`);
  }

  const BMP = { '@type': '#Microsoft.VideoAnalyzer.ImageFormatBmp' };

  test('no scale: the native 80x60 frame', async () => {
    const echo = await send({ format: BMP });
    assert.deepEqual([echo.width, echo.height], [80, 60]);
    assertQuadrants(echo, 0, 0, 80, 60, 0, 'native');
  });

  test('pad 64x64: letterbox, black bars of 8 rows centred', async () => {
    const echo = await send({ scale: { mode: 'pad', width: '64', height: '64' }, format: BMP });
    assert.deepEqual([echo.width, echo.height], [64, 64]);
    for (const y of [0, 7, 56, 63]) assertColour(echo, 32, y, BLACK, 0, 'bar');
    assertQuadrants(echo, 0, 8, 64, 48, 0, 'pad');
  });

  test('pad 100x50: pillarbox, content 67x50 from x=16', async () => {
    const echo = await send({ scale: { mode: 'Pad', width: '100', height: '50' }, format: BMP });
    assert.deepEqual([echo.width, echo.height], [100, 50]);
    for (const x of [0, 15, 83, 99]) assertColour(echo, x, 25, BLACK, 0, 'bar');
    assertQuadrants(echo, 16, 0, 67, 50, 0, 'pad');
  });

  test('preserveAspectRatio 64x64 fits inside: 64x48', async () => {
    const echo = await send({ scale: { mode: 'preserveAspectRatio', width: '64', height: '64' }, format: BMP });
    assert.deepEqual([echo.width, echo.height], [64, 48]);
    assertQuadrants(echo, 0, 0, 64, 48, 0, 'preserveAspectRatio');
  });

  test('preserveAspectRatio with the width only: 40x30', async () => {
    const echo = await send({ scale: { mode: 'preserveAspectRatio', width: '40' }, format: BMP });
    assert.deepEqual([echo.width, echo.height], [40, 30]);
    assertQuadrants(echo, 0, 0, 40, 30, 0, 'preserveAspectRatio');
  });

  test('stretch 64x64: aspect ratio lost', async () => {
    const echo = await send({ scale: { mode: 'stretch', width: '64', height: '64' }, format: BMP });
    assert.deepEqual([echo.width, echo.height], [64, 64]);
    assertQuadrants(echo, 0, 0, 64, 64, 0, 'stretch');
  });

  test('stretch with the height only: the width stays', async () => {
    const echo = await send({ scale: { mode: 'Stretch', height: '30' }, format: BMP });
    assert.deepEqual([echo.width, echo.height], [80, 30]);
    assertQuadrants(echo, 0, 0, 80, 30, 0, 'stretch');
  });

  const formats: [string, Record<string, unknown>, number][] = [
    ['JPEG quality 90', { '@type': '#Microsoft.VideoAnalyzer.ImageFormatJpeg', quality: '90' }, 24],
    ['PNG', { '@type': '#Microsoft.VideoAnalyzer.ImageFormatPng' }, 0],
    ['LVA 1.0 encoded png', { '@type': '#Microsoft.Media.MediaGraphImageFormatEncoded', encoding: 'png' }, 0],
    ...RAW_FORMAT_NAMES.map((pixelFormat): [string, Record<string, unknown>, number] => [
      `raw ${pixelFormat}`,
      { '@type': '#Microsoft.VideoAnalyzer.ImageFormatRaw', pixelFormat },
      // 16-bit formats keep 5 or 6 bits a channel; yuv420p goes through BT.601 limited range.
      pixelFormat.startsWith('rgb5') ? 8 : pixelFormat === 'yuv420p' ? 6 : 0,
    ]),
  ];
  for (const [name, format, tolerance] of formats) {
    test(`${name}, pad 64x64`, async () => {
      const echo = await send({ scale: { mode: 'pad', width: '64', height: '64' }, format });
      assert.deepEqual([echo.width, echo.height], [64, 64]);
      assertColour(echo, 32, 2, BLACK, tolerance, 'bar');
      assertQuadrants(echo, 0, 8, 64, 48, tolerance, name);
    });
  }
});

describe('pad mode maps boxes back to the source frame', () => {
  test('a box on the padded 64x64 image is published relative to the 80x60 frame', async () => {
    const dir = tempDir();
    const double = await startDouble((_request, _i, res) =>
      json(res, 200, {
        inferences: [
          {
            type: 'entity',
            subtype: 'objectDetection',
            entity: { tag: { value: 'person', confidence: 0.9 }, box: { l: 0.25, t: 0.125, w: 0.5, h: 0.375 } },
          },
          { type: 'motion', motion: { box: { l: 0, t: 0, w: 1, h: 1 } } },
          { type: 'classification', classification: { tag: { value: 'dark', confidence: 1 } } },
        ],
      }),
    );
    try {
      const { messages } = await runInProcess(
        avaTopology({ image: { scale: { mode: 'pad', width: '64', height: '64' } } }),
        { rtspUrl: await quadrantPng(dir), inferencingUrl: double.url },
      );
      assert.deepEqual(messages[0]!.body.inferences, [
        {
          type: 'entity',
          subtype: 'objectDetection',
          entity: { tag: { value: 'person', confidence: 0.9 }, box: { l: 0.25, t: 0, w: 0.5, h: 0.5 } },
        },
        // The bars are clipped away: the whole padded image is the whole frame.
        { type: 'motion', motion: { box: { l: 0, t: 0, w: 1, h: 1 } } },
        { type: 'classification', classification: { tag: { value: 'dark', confidence: 1 } } },
      ]);
    } finally {
      await double.close();
      dir.remove();
    }
  });
});

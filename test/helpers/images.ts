import sharp from 'sharp';
import type { PixelFormat, RawFormat } from '../../src/contract/pixel-format.js';
import { RAW_FORMAT_NAMES, rawFrameBytes } from '../../src/contract/pixel-format.js';
import { encodeBmp, encodeRaw } from '../../src/pipeline/pixel-encoders.js';
import { encodeRle, rleBmp } from './bmp-rle.js';
import { type JpegComponentSpec, writeJpeg } from './jpeg-writer.js';
import { writePng } from './png-writer.js';

/**
 * Every media variant the server must decode, generated at test time from known pixels (nothing generated is
 * committed). Odd sizes (37x21) catch row padding and partial-block bugs; lossless formats carry a gradient that
 * differs along both axes and in every channel (so flips, transpositions and channel swaps show); lossy formats carry
 * solid 16x16 blocks aligned to JPEG MCUs, so only chroma resampling at block edges is lossy.
 */
export const WIDTH = 37;
export const HEIGHT = 21;

/** Known pixels as tightly packed RGB24. */
export interface KnownImage {
  width: number;
  height: number;
  rgb: Uint8Array;
}

/**
 * How close decoded pixels must be. Lossless formats: `max` 0. Lossy ones: `max` per channel on pixels at least
 * `margin` pixels away from a colour edge of the known image (JPEG decoders interpolate chroma across block edges,
 * so pixels next to an edge take some of the neighbouring colour), and `mean` absolute error over all pixels.
 */
export interface Tolerance {
  max: number;
  margin?: number;
  mean?: number;
}

export interface Variant {
  name: string;
  body: Uint8Array;
  contentType: string;
  expected: KnownImage;
  tolerance: Tolerance;
  /** The pixel format the decoder should hand to processors (BMP and raw are served in place). */
  frameFormat?: PixelFormat;
}

const EXACT: Tolerance = { max: 0 };

function image(width: number, height: number, pixel: (x: number, y: number) => [number, number, number]): KnownImage {
  const rgb = new Uint8Array(width * height * 3);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) rgb.set(pixel(x, y), (y * width + x) * 3);
  }
  return { width, height, rgb };
}

/** Distinct along x, along y and in each channel. */
export function gradient(width = WIDTH, height = HEIGHT): KnownImage {
  return image(width, height, (x, y) => [
    Math.round((x * 255) / (width - 1)),
    Math.round((y * 255) / (height - 1)),
    (x * 13 + y * 29) % 256,
  ]);
}

const BLOCK_COLOURS: Array<[number, number, number]> = [
  [200, 40, 40],
  [40, 180, 60],
  [50, 60, 200],
  [230, 220, 60],
  [128, 128, 128],
  [30, 30, 30],
];

/** Solid 16x16 blocks (3 x 2 over 37x21), aligned to every JPEG MCU size and to yuv420p's 2x2 chroma. */
export function blocks(width = WIDTH, height = HEIGHT, colours = BLOCK_COLOURS): KnownImage {
  return image(width, height, (x, y) => colours[((x >> 4) + 3 * (y >> 4)) % colours.length]!);
}

/** A grey image from grey values (R = G = B). */
export function greyImage(width: number, height: number, grey: (x: number, y: number) => number): KnownImage {
  return image(width, height, (x, y) => {
    const g = grey(x, y);
    return [g, g, g];
  });
}

export function greyGradient(width = WIDTH, height = HEIGHT): KnownImage {
  return greyImage(width, height, (x, y) => (x * 6 + y * 5) % 256);
}

/** Palette index of each pixel of the palette images, and the colour of each index. */
export function paletteIndex(x: number, y: number, colours = 256): number {
  return (x * 7 + y * 11) % colours;
}
export function paletteColour(i: number): [number, number, number] {
  return [i, 255 - i, (i * 37) % 256];
}
export function paletteImage(colours = 256, width = WIDTH, height = HEIGHT): KnownImage {
  return image(width, height, (x, y) => paletteColour(paletteIndex(x, y, colours)));
}

/** One channel of an image (0 R, 1 G, 2 B), or BT.601 full-range luma / Cb / Cr as JPEG (JFIF) stores them. */
export function plane(img: KnownImage, which: 'r' | 'g' | 'b' | 'y' | 'cb' | 'cr'): Uint8Array {
  const out = new Uint8Array(img.width * img.height);
  for (let p = 0; p < out.length; p++) {
    const r = img.rgb[p * 3]!;
    const g = img.rgb[p * 3 + 1]!;
    const b = img.rgb[p * 3 + 2]!;
    const value =
      which === 'r'
        ? r
        : which === 'g'
          ? g
          : which === 'b'
            ? b
            : which === 'y'
              ? 0.299 * r + 0.587 * g + 0.114 * b
              : which === 'cb'
                ? 128 - 0.168736 * r - 0.331264 * g + 0.5 * b
                : 128 + 0.5 * r - 0.418688 * g - 0.081312 * b;
    out[p] = Math.max(0, Math.min(255, Math.round(value)));
  }
  return out;
}

/** What a decoder makes of RGB stored in 5 (or 6) bits per channel: the top bits repeated into the low ones. */
export function through16Bit(img: KnownImage, greenBits: 5 | 6): KnownImage {
  return throughBits(img, [5, greenBits, 5]);
}

// ---------------------------------------------------------------------------------------------------------------- JPEG

const LOSSY: Tolerance = { max: 6, margin: 2, mean: 6 };

export async function jpegVariants(): Promise<Variant[]> {
  const colour = blocks();
  const grey = greyImage(WIDTH, HEIGHT, (x, y) => plane(colour, 'y')[y * WIDTH + x]!);
  const fromRgb = () => sharp(colour.rgb, { raw: { width: WIDTH, height: HEIGHT, channels: 3 } });
  const fromGrey = () =>
    sharp(plane(grey, 'r'), { raw: { width: WIDTH, height: HEIGHT, channels: 1 } }).toColourspace('b-w');
  const ycc = (y: JpegComponentSpec['h'], v: JpegComponentSpec['v']): JpegComponentSpec[] => [
    { samples: plane(colour, 'y'), h: y, v },
    { samples: plane(colour, 'cb'), h: 1, v: 1 },
    { samples: plane(colour, 'cr'), h: 1, v: 1 },
  ];
  const jpeg = (name: string, body: Uint8Array, expected = colour): Variant => ({
    name: `JPEG ${name}`,
    body,
    contentType: 'image/jpeg',
    expected,
    tolerance: LOSSY,
    // A one-component JPEG decodes to one channel.
    frameFormat: expected === grey ? 'gray8' : 'rgb24',
  });
  const q = { quality: 95 };
  return [
    jpeg(
      'baseline 4:2:0',
      await fromRgb()
        .jpeg({ ...q, chromaSubsampling: '4:2:0' })
        .toBuffer(),
    ),
    jpeg(
      'baseline 4:4:4',
      await fromRgb()
        .jpeg({ ...q, chromaSubsampling: '4:4:4' })
        .toBuffer(),
    ),
    jpeg(
      'progressive 4:2:0',
      await fromRgb()
        .jpeg({ ...q, chromaSubsampling: '4:2:0', progressive: true })
        .toBuffer(),
    ),
    jpeg(
      'progressive 4:4:4',
      await fromRgb()
        .jpeg({ ...q, chromaSubsampling: '4:4:4', progressive: true })
        .toBuffer(),
    ),
    jpeg('baseline grey', await fromGrey().jpeg(q).toBuffer(), grey),
    jpeg(
      'progressive grey',
      await fromGrey()
        .jpeg({ ...q, progressive: true })
        .toBuffer(),
      grey,
    ),
    jpeg('baseline 4:2:2 (h2v1)', writeJpeg({ width: WIDTH, height: HEIGHT, components: ycc(2, 1) })),
    jpeg('baseline 4:4:0 (h1v2)', writeJpeg({ width: WIDTH, height: HEIGHT, components: ycc(1, 2) })),
    jpeg('baseline 4:1:1 (h4v1)', writeJpeg({ width: WIDTH, height: HEIGHT, components: ycc(4, 1) })),
    jpeg(
      'baseline 4:2:0 (h2v2) with restart markers',
      writeJpeg({ width: WIDTH, height: HEIGHT, components: ycc(2, 2), restartInterval: 1 }),
    ),
    jpeg(
      'baseline 4:4:4 (h1v1), coarse quantisation',
      writeJpeg({ width: WIDTH, height: HEIGHT, components: ycc(1, 1), quant: 4 }),
    ),
    jpeg(
      'baseline grey with restart markers',
      writeJpeg({
        width: WIDTH,
        height: HEIGHT,
        components: [{ samples: plane(grey, 'r'), h: 1, v: 1 }],
        restartInterval: 2,
      }),
      grey,
    ),
  ];
}

/**
 * A CMYK JPEG (what print workflows and some scanners write), stored as Adobe writes it (inverted: 255 is no ink),
 * with the inks chosen so that the profile-less conversion the server applies (R = C x K / 255, as OpenCV does) gives
 * back the block colours: K carries the brightest channel, C, M and Y the rest.
 */
export function cmykJpeg(): Variant {
  const colour = blocks();
  const n = WIDTH * HEIGHT;
  const inks = [new Uint8Array(n), new Uint8Array(n), new Uint8Array(n), new Uint8Array(n)] as const;
  for (let p = 0; p < n; p++) {
    const rgb = [colour.rgb[p * 3]!, colour.rgb[p * 3 + 1]!, colour.rgb[p * 3 + 2]!];
    const k = Math.max(...rgb, 1);
    rgb.forEach((v, i) => {
      inks[i]![p] = Math.round((v * 255) / k);
    });
    inks[3][p] = k;
  }
  return {
    name: 'JPEG CMYK',
    body: writeJpeg({ width: WIDTH, height: HEIGHT, components: inks.map((samples) => ({ samples, h: 1, v: 1 })) }),
    contentType: 'image/jpeg',
    expected: colour,
    tolerance: { max: 2 },
    frameFormat: 'rgb24',
  };
}

// ----------------------------------------------------------------------------------------------------------------- PNG

export async function pngVariants(): Promise<Variant[]> {
  const colour = gradient();
  const grey = greyGradient();
  const n = WIDTH * HEIGHT;
  const alphaOf = (p: number) => (p * 5) % 256;
  const interleave = (img: KnownImage, alpha: boolean, scale = 1): number[] => {
    const out: number[] = [];
    for (let p = 0; p < n; p++) {
      out.push(img.rgb[p * 3]! * scale, img.rgb[p * 3 + 1]! * scale, img.rgb[p * 3 + 2]! * scale);
      if (alpha) out.push(alphaOf(p) * scale);
    }
    return out;
  };
  const greySamples = (alpha: boolean, scale = 1): number[] => {
    const out: number[] = [];
    for (let p = 0; p < n; p++) {
      out.push(grey.rgb[p * 3]! * scale);
      if (alpha) out.push(alphaOf(p) * scale);
    }
    return out;
  };
  const indexes = (colours: number): number[] => {
    const out: number[] = [];
    for (let y = 0; y < HEIGHT; y++) for (let x = 0; x < WIDTH; x++) out.push(paletteIndex(x, y, colours));
    return out;
  };
  const palette = (colours: number): number[] => Array.from({ length: colours }, (_, i) => paletteColour(i)).flat();
  const png = (name: string, body: Uint8Array, expected: KnownImage): Variant => ({
    name: `PNG ${name}`,
    body,
    contentType: 'image/png',
    expected,
    tolerance: EXACT,
    // Colour types 0 and 4 (grey, grey + alpha) decode to one channel.
    frameFormat: body[25] === 0 || body[25] === 4 ? 'gray8' : 'rgb24',
  });
  const size = { width: WIDTH, height: HEIGHT };
  // 16-bit samples v * 257 map back to exactly v whether a decoder shifts or rounds.
  return [
    png('grey 8-bit', writePng({ ...size, colourType: 0, bitDepth: 8, samples: greySamples(false) }), grey),
    png('grey 16-bit', writePng({ ...size, colourType: 0, bitDepth: 16, samples: greySamples(false, 257) }), grey),
    png(
      'grey 4-bit',
      writePng({ ...size, colourType: 0, bitDepth: 4, samples: greySamples(false).map((g) => g >> 4) }),
      { ...grey, rgb: grey.rgb.map((g) => (g >> 4) * 17) },
    ),
    png('grey + alpha 8-bit', writePng({ ...size, colourType: 4, bitDepth: 8, samples: greySamples(true) }), grey),
    png(
      'grey + alpha 16-bit',
      writePng({ ...size, colourType: 4, bitDepth: 16, samples: greySamples(true, 257) }),
      grey,
    ),
    png('RGB 8-bit', writePng({ ...size, colourType: 2, bitDepth: 8, samples: interleave(colour, false) }), colour),
    png(
      'RGB 16-bit',
      writePng({ ...size, colourType: 2, bitDepth: 16, samples: interleave(colour, false, 257) }),
      colour,
    ),
    png('RGBA 8-bit', writePng({ ...size, colourType: 6, bitDepth: 8, samples: interleave(colour, true) }), colour),
    png(
      'RGBA 16-bit',
      writePng({ ...size, colourType: 6, bitDepth: 16, samples: interleave(colour, true, 257) }),
      colour,
    ),
    png(
      'palette 8-bit',
      writePng({ ...size, colourType: 3, bitDepth: 8, samples: indexes(256), palette: palette(256) }),
      paletteImage(256),
    ),
    png(
      'palette 4-bit with tRNS',
      writePng({
        ...size,
        colourType: 3,
        bitDepth: 4,
        samples: indexes(16),
        palette: palette(16),
        transparency: Array.from({ length: 16 }, (_, i) => i * 16),
      }),
      paletteImage(16),
    ),
    png(
      'palette 1-bit',
      writePng({ ...size, colourType: 3, bitDepth: 1, samples: indexes(2), palette: palette(2) }),
      paletteImage(2),
    ),
    png(
      'RGB 8-bit Adam7 interlaced',
      await sharp(colour.rgb, { raw: { ...size, channels: 3 } })
        .png({ progressive: true })
        .toBuffer(),
      colour,
    ),
  ];
}

// ----------------------------------------------------------------------------------------------------------------- BMP

export interface BmpSpec {
  width: number;
  height: number;
  bpp: 1 | 4 | 8 | 16 | 24 | 32;
  topDown?: boolean;
  /** 12 (OS/2 core), 40 (BITMAPINFOHEADER), 108 (V4) or 124 (V5) */
  headerSize?: 12 | 40 | 108 | 124;
  /** 0 BI_RGB, 1 BI_RLE8, 3 BI_BITFIELDS */
  compression?: number;
  /** R, G, B (and A) masks for BI_BITFIELDS */
  masks?: number[];
  /** RGB triplets, for bpp <= 8 */
  palette?: ArrayLike<number>;
  /** The stored value of a pixel: a palette index, a masked 16/32-bit word, or 0xRRGGBB for 24-bit. */
  pixel: (x: number, y: number) => number;
}

/** A hand-built BMP: any header version, bit depth and mask layout (encodeBmp writes only the common ones). */
export function writeBmp(spec: BmpSpec): Uint8Array {
  const { width, height, bpp } = spec;
  const headerSize = spec.headerSize ?? 40;
  const core = headerSize === 12;
  const masks = spec.masks ?? [];
  const masksInHeader = headerSize >= 108;
  const entryBytes = core ? 3 : 4;
  const paletteColours = spec.palette ? spec.palette.length / 3 : 0;
  const pixelOffset = 14 + headerSize + (masksInHeader ? 0 : masks.length * 4) + paletteColours * entryBytes;
  const rowBytes = Math.floor((bpp * width + 31) / 32) * 4;
  const out = new Uint8Array(pixelOffset + rowBytes * height);
  const view = new DataView(out.buffer);
  out[0] = 0x42;
  out[1] = 0x4d;
  view.setUint32(2, out.length, true);
  view.setUint32(10, pixelOffset, true);
  view.setUint32(14, headerSize, true);
  if (core) {
    view.setUint16(18, width, true);
    view.setUint16(20, height, true);
    view.setUint16(22, 1, true);
    view.setUint16(24, bpp, true);
  } else {
    view.setInt32(18, width, true);
    view.setInt32(22, spec.topDown ? -height : height, true);
    view.setUint16(26, 1, true);
    view.setUint16(28, bpp, true);
    view.setUint32(30, spec.compression ?? 0, true);
    view.setUint32(34, rowBytes * height, true);
    view.setUint32(46, paletteColours, true);
    masks.forEach((m, i) => {
      view.setUint32(54 + i * 4, m >>> 0, true);
    });
  }
  const paletteAt = pixelOffset - paletteColours * entryBytes;
  for (let i = 0; i < paletteColours; i++) {
    out[paletteAt + i * entryBytes] = spec.palette![i * 3 + 2]!;
    out[paletteAt + i * entryBytes + 1] = spec.palette![i * 3 + 1]!;
    out[paletteAt + i * entryBytes + 2] = spec.palette![i * 3]!;
  }
  for (let y = 0; y < height; y++) {
    const row = pixelOffset + (spec.topDown ? y : height - 1 - y) * rowBytes;
    for (let x = 0; x < width; x++) {
      const v = spec.pixel(x, y);
      if (bpp < 8) {
        const bit = x * bpp;
        out[row + (bit >> 3)]! |= v << (8 - bpp - (bit & 7));
      } else if (bpp === 8) out[row + x] = v;
      else if (bpp === 16) view.setUint16(row + x * 2, v, true);
      else if (bpp === 24) {
        out[row + x * 3] = v & 0xff;
        out[row + x * 3 + 1] = (v >> 8) & 0xff;
        out[row + x * 3 + 2] = v >> 16;
      } else view.setUint32(row + x * 4, v >>> 0, true);
    }
  }
  return out;
}

/** Packs a pixel of `img` into a word with the given masks (each mask's bits taken from the channel's top bits). */
export function packWithMasks(img: KnownImage, x: number, y: number, masks: readonly number[]): number {
  const p = (y * img.width + x) * 3;
  const channels = [img.rgb[p]!, img.rgb[p + 1]!, img.rgb[p + 2]!, 255];
  let word = 0;
  masks.forEach((mask, i) => {
    const m = mask >>> 0;
    if (m === 0) return;
    let shift = 0;
    while (((m >>> shift) & 1) === 0) shift++;
    const bits = 32 - Math.clz32(m >>> shift);
    // A channel wider than 8 bits gets the 8 bits at its top (and zeros below).
    word += (bits > 8 ? channels[i]! << (bits - 8) : channels[i]! >> (8 - bits)) * 2 ** shift;
  });
  return word >>> 0;
}

export function bmpVariants(): Variant[] {
  const colour = gradient();
  const rgbAt = (x: number, y: number) => {
    const p = (y * WIDTH + x) * 3;
    return (colour.rgb[p]! << 16) | (colour.rgb[p + 1]! << 8) | colour.rgb[p + 2]!;
  };
  const pal256 = paletteImage(256);
  const bmp = (name: string, body: Uint8Array, expected: KnownImage, frameFormat: PixelFormat): Variant => ({
    name: `BMP ${name}`,
    body,
    contentType: 'image/bmp',
    expected,
    tolerance: EXACT,
    frameFormat,
  });
  const size = { width: WIDTH, height: HEIGHT };
  const rgbaMasks = [0xff, 0xff00, 0xff0000, 0xff000000];
  const masks565 = [0xf800, 0x07e0, 0x001f];
  const masks444 = [0x0f00, 0x00f0, 0x000f];
  const masks1010 = [0x3ff00000, 0x000ffc00, 0x000003ff];
  const palette = (colours: number) => Array.from({ length: colours }, (_, i) => paletteColour(i)).flat();
  return [
    bmp('24-bit bottom-up', encodeBmp(colour.rgb, WIDTH, HEIGHT), colour, 'bgr24'),
    bmp('24-bit top-down', encodeBmp(colour.rgb, WIDTH, HEIGHT, { topDown: true }), colour, 'bgr24'),
    bmp('32-bit', encodeBmp(colour.rgb, WIDTH, HEIGHT, { bitsPerPixel: 32 }), colour, 'bgra'),
    bmp('32-bit top-down', encodeBmp(colour.rgb, WIDTH, HEIGHT, { bitsPerPixel: 32, topDown: true }), colour, 'bgra'),
    bmp(
      '16-bit (555)',
      encodeBmp(colour.rgb, WIDTH, HEIGHT, { bitsPerPixel: 16 }),
      through16Bit(colour, 5),
      'rgb555le',
    ),
    bmp('8-bit palette', encodeBmp(pal256.rgb, WIDTH, HEIGHT, { bitsPerPixel: 8 }), pal256, 'rgb24'),
    bmp(
      '8-bit palette top-down',
      encodeBmp(pal256.rgb, WIDTH, HEIGHT, { bitsPerPixel: 8, topDown: true }),
      pal256,
      'rgb24',
    ),
    bmp(
      '32-bit BI_BITFIELDS (RGBA masks)',
      writeBmp({
        ...size,
        bpp: 32,
        compression: 3,
        masks: rgbaMasks.slice(0, 3),
        pixel: (x, y) => packWithMasks(colour, x, y, rgbaMasks),
      }),
      colour,
      'rgba',
    ),
    bmp(
      '32-bit BI_BITFIELDS V5 header (ARGB masks)',
      writeBmp({
        ...size,
        bpp: 32,
        headerSize: 124,
        compression: 3,
        masks: [0xff00, 0xff0000, 0xff000000, 0xff],
        pixel: (x, y) => packWithMasks(colour, x, y, [0xff00, 0xff0000, 0xff000000, 0xff]),
      }),
      colour,
      'argb',
    ),
    bmp(
      '16-bit BI_BITFIELDS (565)',
      writeBmp({
        ...size,
        bpp: 16,
        compression: 3,
        masks: masks565,
        pixel: (x, y) => packWithMasks(colour, x, y, masks565),
      }),
      through16Bit(colour, 6),
      'rgb565le',
    ),
    bmp(
      '4-bit palette',
      writeBmp({ ...size, bpp: 4, palette: palette(16), pixel: (x, y) => paletteIndex(x, y, 16) }),
      paletteImage(16),
      'rgb24',
    ),
    bmp(
      '1-bit palette top-down',
      writeBmp({ ...size, bpp: 1, topDown: true, palette: palette(2), pixel: (x, y) => paletteIndex(x, y, 2) }),
      paletteImage(2),
      'rgb24',
    ),
    ...rleVariants(),
    bmp(
      '16-bit BI_BITFIELDS (444, expanded)',
      writeBmp({
        ...size,
        bpp: 16,
        compression: 3,
        masks: masks444,
        pixel: (x, y) => packWithMasks(colour, x, y, masks444),
      }),
      throughBits(colour, [4, 4, 4]),
      'rgb24',
    ),
    bmp(
      '32-bit BI_BITFIELDS (10-bit channels, expanded)',
      writeBmp({
        ...size,
        bpp: 32,
        compression: 3,
        masks: masks1010,
        pixel: (x, y) => packWithMasks(colour, x, y, masks1010),
      }),
      colour,
      'rgb24',
    ),
    bmp('24-bit OS/2 core header', writeBmp({ ...size, bpp: 24, headerSize: 12, pixel: rgbAt }), colour, 'bgr24'),
    bmp(
      '8-bit palette OS/2 core header',
      writeBmp({ ...size, bpp: 8, headerSize: 12, palette: palette(256), pixel: (x, y) => paletteIndex(x, y) }),
      pal256,
      'rgb24',
    ),
  ];
}

/** Palette indexes with long runs (stripes 8 wide) broken by literal stretches (4 of every 29 pixels). */
export function rleIndex(x: number, y: number, colours: number): number {
  return x % 29 < 4 ? (x * 7 + y * 3) % colours : ((x >> 3) + y) % colours;
}

/** RLE8 and RLE4 files (odd widths, both row orders) of `rleIndex` through the test palette. */
export function rleVariants(width = WIDTH, height = HEIGHT): Variant[] {
  return ([8, 4] as const).flatMap((bpp) =>
    [false, true].map((topDown) => {
      const colours = bpp === 8 ? 256 : 16;
      const indices = Array.from({ length: width * height }, (_, p) =>
        rleIndex(p % width, Math.floor(p / width), colours),
      );
      const palette = Array.from({ length: colours }, (_, i) => paletteColour(i)).flat();
      return {
        name: `BMP ${bpp}-bit RLE${bpp}${topDown ? ' top-down' : ''}`,
        body: rleBmp({ width, height, bpp, palette, topDown, stream: encodeRle(indices, width, height, bpp, topDown) }),
        contentType: 'image/bmp',
        expected: image(width, height, (x, y) => paletteColour(rleIndex(x, y, colours))),
        tolerance: EXACT,
        frameFormat: 'rgb24' as const,
      };
    }),
  );
}

/** What a decoder makes of RGB stored in fewer than 8 bits per channel: the top bits repeated into the low ones. */
export function throughBits(img: KnownImage, bits: readonly [number, number, number]): KnownImage {
  const rgb = img.rgb.map((v, i) => {
    const n = bits[i % 3]!;
    const top = v >> (8 - n);
    let out = 0;
    for (let s = 8 - n; s > -n; s -= n) out |= s >= 0 ? top << s : top >> -s;
    return out;
  });
  return { ...img, rgb };
}

// ----------------------------------------------------------------------------------------------------------------- raw

/** Each of the 11 raw formats, tightly packed; yuv420p carries the block image (its chroma is 2x2-subsampled). */
export function rawVariants(): Variant[] {
  return RAW_FORMAT_NAMES.map((format) => rawVariant(format));
}

export function rawVariant(format: RawFormat, strideBytes?: number): Variant {
  const known = format === 'yuv420p' ? blocks() : gradient();
  const packed = encodeRaw(known.rgb, WIDTH, HEIGHT, format);
  const body = strideBytes === undefined ? packed : pad(packed, format, strideBytes);
  const expected = format.startsWith('rgb565')
    ? through16Bit(known, 6)
    : format.startsWith('rgb555')
      ? through16Bit(known, 5)
      : known;
  const params = `width=${WIDTH}; height=${HEIGHT}; format=${format}${strideBytes ? `; stride=${strideBytes}` : ''}`;
  return {
    name: `raw ${format}${strideBytes ? ` stride ${strideBytes}` : ''}`,
    body,
    contentType: `image/x-raw; ${params}`,
    expected,
    // BT.601 limited range in 8 bits loses up to ~1.5 per channel each way.
    tolerance: format === 'yuv420p' ? { max: 3 } : EXACT,
    frameFormat: format,
  };
}

/** Rewrites a tightly packed raw frame with `stride` bytes per row (yuv420p: ceil(stride/2) per chroma row). */
function pad(packed: Uint8Array, format: RawFormat, stride: number): Uint8Array {
  const out = new Uint8Array(rawFrameBytes(format, WIDTH, HEIGHT, stride)).fill(0xa5);
  const copyPlane = (from: number, rowBytes: number, rows: number, to: number, toStride: number) => {
    for (let y = 0; y < rows; y++)
      out.set(packed.subarray(from + y * rowBytes, from + (y + 1) * rowBytes), to + y * toStride);
  };
  if (format !== 'yuv420p') {
    copyPlane(0, packed.length / HEIGHT, HEIGHT, 0, stride);
    return out;
  }
  const cw = Math.ceil(WIDTH / 2);
  const ch = Math.ceil(HEIGHT / 2);
  const cs = Math.ceil(stride / 2);
  copyPlane(0, WIDTH, HEIGHT, 0, stride);
  copyPlane(WIDTH * HEIGHT, cw, ch, stride * HEIGHT, cs);
  copyPlane(WIDTH * HEIGHT + cw * ch, cw, ch, stride * HEIGHT + cs * ch, cs);
  return out;
}

// ---------------------------------------------------------------------------------------------------------- comparison

/** Describes the first pixel outside the tolerance, or returns undefined when the decoded image matches. */
export function comparePixels(actual: Uint8Array, expected: KnownImage, tolerance: Tolerance): string | undefined {
  const { width, height, rgb } = expected;
  if (actual.length !== rgb.length) return `expected ${rgb.length} bytes of RGB, got ${actual.length}`;
  const margin = tolerance.margin ?? 0;
  let total = 0;
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const interior = margin === 0 || isInterior(expected, x, y, margin);
      for (let c = 0; c < 3; c++) {
        const i = (y * width + x) * 3 + c;
        const error = Math.abs(actual[i]! - rgb[i]!);
        total += error;
        if (interior && error > tolerance.max) {
          return (
            `pixel (${x},${y}) is ${Array.from(actual.subarray(i - c, i - c + 3))}, expected ` +
            `${Array.from(rgb.subarray(i - c, i - c + 3))} (tolerance ${tolerance.max})`
          );
        }
      }
    }
  }
  const mean = total / rgb.length;
  if (tolerance.mean !== undefined && mean > tolerance.mean) {
    return `mean absolute error ${mean.toFixed(2)} is over ${tolerance.mean}`;
  }
  return undefined;
}

/** True when every pixel within `margin` of (x, y) has the same colour in the known image. */
function isInterior(img: KnownImage, x: number, y: number, margin: number): boolean {
  const at = (y * img.width + x) * 3;
  for (let dy = -margin; dy <= margin; dy++) {
    for (let dx = -margin; dx <= margin; dx++) {
      const nx = Math.min(img.width - 1, Math.max(0, x + dx));
      const ny = Math.min(img.height - 1, Math.max(0, y + dy));
      const o = (ny * img.width + nx) * 3;
      if (img.rgb[o] !== img.rgb[at] || img.rgb[o + 1] !== img.rgb[at + 1] || img.rgb[o + 2] !== img.rgb[at + 2]) {
        return false;
      }
    }
  }
  return true;
}

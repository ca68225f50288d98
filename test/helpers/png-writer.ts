import { crc32, deflateSync } from 'node:zlib';

/**
 * A minimal PNG writer for tests: every colour type and bit depth, written from samples we choose, so each test
 * knows its pixels exactly (encoders with their own ideas, e.g. one that turns grey into RGB or quantises a palette,
 * would test the encoder instead of our decoder).
 */
export interface PngSpec {
  width: number;
  height: number;
  /** 0 grey, 2 RGB, 3 palette, 4 grey + alpha, 6 RGBA */
  colourType: 0 | 2 | 3 | 4 | 6;
  bitDepth: 1 | 2 | 4 | 8 | 16;
  /** Samples in row order, `channels` per pixel, each < 2^bitDepth (palette: indexes). */
  samples: ArrayLike<number>;
  /** colour type 3: RGB triplets */
  palette?: ArrayLike<number>;
  /** tRNS: alpha per palette entry (colour type 3) */
  transparency?: ArrayLike<number>;
}

const CHANNELS = { 0: 1, 2: 3, 3: 1, 4: 2, 6: 4 } as const;

export function writePng(spec: PngSpec): Uint8Array {
  const { width, height, colourType, bitDepth } = spec;
  const channels = CHANNELS[colourType];
  const rowBytes = Math.ceil((width * channels * bitDepth) / 8);
  const raw = new Uint8Array((rowBytes + 1) * height);
  for (let y = 0; y < height; y++) {
    const row = y * (rowBytes + 1) + 1; // filter byte 0 (None) before each row
    for (let s = 0; s < width * channels; s++) {
      const value = spec.samples[y * width * channels + s]!;
      if (bitDepth === 16) {
        raw[row + s * 2] = value >> 8;
        raw[row + s * 2 + 1] = value & 0xff;
      } else if (bitDepth === 8) {
        raw[row + s] = value;
      } else {
        const bit = s * bitDepth;
        raw[row + (bit >> 3)]! |= value << (8 - bitDepth - (bit & 7));
      }
    }
  }
  const ihdr = new Uint8Array(13);
  const view = new DataView(ihdr.buffer);
  view.setUint32(0, width);
  view.setUint32(4, height);
  ihdr[8] = bitDepth;
  ihdr[9] = colourType;
  const chunks = [chunk('IHDR', ihdr)];
  if (spec.palette) chunks.push(chunk('PLTE', Uint8Array.from(spec.palette)));
  if (spec.transparency) chunks.push(chunk('tRNS', Uint8Array.from(spec.transparency)));
  chunks.push(chunk('IDAT', deflateSync(raw)), chunk('IEND', new Uint8Array(0)));
  return concat([Uint8Array.of(0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a), ...chunks]);
}

/** A PNG that is only a header: what a decompression bomb looks like to the pixel limit. */
export function pngHeaderOnly(width: number, height: number): Uint8Array {
  const ihdr = new Uint8Array(13);
  const view = new DataView(ihdr.buffer);
  view.setUint32(0, width);
  view.setUint32(4, height);
  ihdr[8] = 8;
  ihdr[9] = 2;
  return concat([
    Uint8Array.of(0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a),
    chunk('IHDR', ihdr),
    chunk('IDAT', deflateSync(new Uint8Array(width * 3 + 1))),
    chunk('IEND', new Uint8Array(0)),
  ]);
}

function chunk(type: string, data: Uint8Array): Uint8Array {
  const out = new Uint8Array(12 + data.length);
  const view = new DataView(out.buffer);
  view.setUint32(0, data.length);
  out.set(Buffer.from(type, 'latin1'), 4);
  out.set(data, 8);
  view.setUint32(8 + data.length, crc32(out.subarray(4, 8 + data.length)));
  return out;
}

export function concat(parts: readonly Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const part of parts) {
    out.set(part, at);
    at += part.length;
  }
  return out;
}

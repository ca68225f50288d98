import type { AlphaMask } from './draw.js';
import { loadSharp } from './sharp-lazy.js';

/**
 * Text as coverage masks for drawing into frames. Printable ASCII (every detector label and confidence) comes from a
 * glyph atlas rendered once per font size by librsvg in a monospace face, so a label costs a few copies; any other
 * text (OCR in Chinese, say) is rendered on its own and kept in a small cache, since a camera shows the same sign
 * frame after frame.
 */

const FIRST = 0x20;
const LAST = 0x7e;
const PRINTABLE_ASCII = /^[\x20-\x7e]*$/;
/** Distinct font sizes follow distinct frame sizes; a handful is what a deployment sees. */
const MAX_ATLASES = 16;
const MAX_RENDERED = 128;
/** Wider text is cut: a label never needs to be wider than the largest frame. */
const MAX_TEXT_WIDTH = 8192;

/** The advance of one glyph in the atlas' monospace face (its em is 0.6 wide in DejaVu Sans Mono and Liberation Mono). */
export function glyphWidth(fontSize: number): number {
  return Math.ceil(fontSize * 0.6);
}

/** Masks are one line: the baseline at `fontSize`, room below it for descenders. */
export function lineHeight(fontSize: number): number {
  return fontSize + 4;
}

const atlases = new Map<number, Promise<AlphaMask>>();
const rendered = new Map<string, Promise<AlphaMask>>();

/** The mask of `text` at `fontSize` pixels, trimmed to its drawn width. */
export async function textMask(text: string, fontSize: number): Promise<AlphaMask> {
  if (PRINTABLE_ASCII.test(text)) return fromAtlas(await atlas(fontSize), text, fontSize);
  const key = `${fontSize}\u0000${text}`;
  let mask = rendered.get(key);
  if (mask === undefined) {
    mask = renderTrimmed(text, fontSize);
    remember(rendered, key, mask, MAX_RENDERED);
  } else {
    // Map order is insertion order: re-inserting keeps the least recently used first, to be evicted.
    rendered.delete(key);
    rendered.set(key, mask);
  }
  return mask;
}

function atlas(fontSize: number): Promise<AlphaMask> {
  let found = atlases.get(fontSize);
  if (found === undefined) {
    const cell = glyphWidth(fontSize);
    const glyphs: string[] = [];
    for (let code = FIRST + 1; code <= LAST; code++) {
      glyphs.push(`<text x="${(code - FIRST) * cell}" y="${fontSize}">${escapeXml(String.fromCharCode(code))}</text>`);
    }
    found = render(glyphs.join(''), (LAST - FIRST + 1) * cell, fontSize);
    remember(atlases, fontSize, found, MAX_ATLASES);
  }
  return found;
}

function fromAtlas(glyphs: AlphaMask, text: string, fontSize: number): AlphaMask {
  const cell = glyphWidth(fontSize);
  const height = lineHeight(fontSize);
  const width = Math.min(MAX_TEXT_WIDTH, text.length * cell);
  const alpha = new Uint8Array(width * height);
  for (let i = 0; i * cell < width; i++) {
    const source = (text.charCodeAt(i) - FIRST) * cell;
    if (source === 0) continue; // a space
    const columns = Math.min(cell, width - i * cell);
    for (let y = 0; y < height; y++) {
      const from = y * glyphs.width + source;
      alpha.set(glyphs.alpha.subarray(from, from + columns), y * width + i * cell);
    }
  }
  return { width, height, alpha };
}

async function renderTrimmed(text: string, fontSize: number): Promise<AlphaMask> {
  // Wide enough for full-width (CJK) glyphs, then cut to the last column anything was drawn in.
  const guess = Math.min(MAX_TEXT_WIDTH, Math.ceil([...text].length * fontSize * 1.2) + fontSize);
  const full = await render(`<text x="0" y="${fontSize}">${escapeXml(text)}</text>`, guess, fontSize);
  let used = 0;
  for (let y = 0; y < full.height; y++) {
    const row = full.alpha.subarray(y * full.width, (y + 1) * full.width);
    for (let x = full.width - 1; x >= used; x--) {
      if (row[x] !== 0) {
        used = x + 1;
        break;
      }
    }
  }
  const width = Math.max(1, used);
  const alpha = new Uint8Array(width * full.height);
  for (let y = 0; y < full.height; y++) {
    alpha.set(full.alpha.subarray(y * full.width, y * full.width + width), y * width);
  }
  return { width, height: full.height, alpha };
}

async function render(body: string, width: number, fontSize: number): Promise<AlphaMask> {
  const height = lineHeight(fontSize);
  const svg =
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}">` +
    `<g font-family="monospace" font-size="${fontSize}" fill="#ffffff">${body}</g></svg>`;
  const sharp = await loadSharp();
  const { data, info } = await sharp(Buffer.from(svg))
    .ensureAlpha()
    .extractChannel(3)
    .raw()
    .toBuffer({ resolveWithObject: true });
  return { width: info.width, height: info.height, alpha: new Uint8Array(data.buffer, data.byteOffset, data.length) };
}

/** Caches a mask being rendered, least recently added out first; a render that failed is not kept. */
function remember<K>(cache: Map<K, Promise<AlphaMask>>, key: K, value: Promise<AlphaMask>, max: number) {
  cache.set(key, value);
  if (cache.size > max) cache.delete(cache.keys().next().value as K);
  value.catch(() => {
    if (cache.get(key) === value) cache.delete(key);
  });
}

function escapeXml(text: string): string {
  return text.replace(/[<>&"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

/**
 * Writes test/fixtures/frames/signs_416.jpg: two signs rendered in DejaVu Sans (free licence) on the OpenCV street
 * frame, as an OCR test fixture whose text is known. Run once: `node dist/scripts/make-ocr-fixture.js`.
 */
import sharp from 'sharp';

const base = new URL('../../test/fixtures/frames/street100_416.jpg', import.meta.url);
const out = new URL('../../test/fixtures/frames/signs_416.jpg', import.meta.url);
const svg = `<svg xmlns="http://www.w3.org/2000/svg" width="416" height="416">
  <rect x="40" y="250" width="220" height="56" fill="#1d7a3a" stroke="#ffffff" stroke-width="3"/>
  <text x="150" y="289" font-family="DejaVu Sans" font-weight="bold" font-size="28" fill="#ffffff" text-anchor="middle">FIRE EXIT</text>
  <rect x="200" y="320" width="190" height="36" fill="#f4f4f4"/>
  <text x="295" y="345" font-family="DejaVu Sans" font-size="20" fill="#111111" text-anchor="middle">Platform 12</text>
</svg>`;
await sharp(new URL(base).pathname)
  .composite([{ input: Buffer.from(svg), top: 0, left: 0 }])
  .jpeg({ quality: 90 })
  .toFile(new URL(out).pathname);
console.log(`wrote ${new URL(out).pathname}`);

/**
 * Decoder micro-benchmark: CPU milliseconds per decode (process.cpuUsage, one thread, libvips limited to one thread
 * as in the pool workers) for each decoder the server can pick, on the benchmark frames.
 *
 *   node dist/bench/decoders.js [--images DIR] [--iterations 100]
 */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { Transformer } from '@napi-rs/image';
import { decodeWithSharp } from '../src/inference/decode.js';
import { jpegTurbo } from '../src/inference/jpeg-native.js';
import { probeEncoded } from '../src/inference/probe.js';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const { values } = parseArgs({
  options: {
    images: { type: 'string', default: join(ROOT, '../shared/images/frames') },
    iterations: { type: 'string', default: '100' },
  },
});
const n = Number(values.iterations);
const names = ['light_416.jpg', 'light_1080p.jpg', 'light_416.png', 'light_1080p.png'];
const files = names.map((name) => join(values.images, name)).filter((f) => existsSync(f));
if (files.length === 0) files.push(join(ROOT, 'test/fixtures/frames/street100_416.jpg'));

async function cpuMs(fn: () => unknown): Promise<number> {
  for (let i = 0; i < 5; i++) await fn();
  const start = process.cpuUsage();
  for (let i = 0; i < n; i++) await fn();
  const used = process.cpuUsage(start);
  return (used.user + used.system) / 1000 / n;
}

const turbo = jpegTurbo();
process.stdout.write('| frame | decoder | CPU ms per decode |\n| --- | --- | ---: |\n');
for (const file of files) {
  const bytes = readFileSync(file);
  const info = probeEncoded(bytes);
  const rows: Array<[string, () => unknown]> = [
    ['sharp, full size', () => decodeWithSharp(bytes, info, {})],
    ['@napi-rs/image rawPixelsSync', () => new Transformer(bytes).rawPixelsSync()],
  ];
  if (info.kind === 'jpeg') {
    rows.splice(1, 0, ['sharp, shrink-on-load 1/8', () => decodeWithSharp(bytes, info, { maxReduction: 8 })]);
    if (turbo !== undefined) {
      for (const r of [1, 2, 4, 8] as const)
        rows.push([`libjpeg-turbo binding 1/${r}`, () => turbo.decode(bytes, r, false, false, 0)]);
      rows.push(['libjpeg-turbo binding 1/1, fast IDCT/upsampling', () => turbo.decode(bytes, 1, false, true, 0)]);
      rows.push(['libjpeg-turbo binding 1/8, luma only', () => turbo.decode(bytes, 8, true, true, 0)]);
    }
  }
  for (const [label, fn] of rows) {
    process.stdout.write(`| ${file.split('/').pop()} | ${label} | ${(await cpuMs(fn)).toFixed(2)} |\n`);
  }
}

/**
 * Run as a child process by test/lazy-sharp.test.ts: does what its argument says, then prints, as one JSON line, which
 * of libvips/sharp and @napi-rs/image this process has actually mapped (the shared objects of process.report, which
 * covers every worker thread: a library loaded anywhere in the process is listed).
 *
 *   import-all  import every module of dist/src (but the two entry points, which would run)
 *   serve       start the real server (workers, then inline execution) and send colorIntensity and motion JPEG,
 *               BMP, raw and 8-bit PNG frames; then one PNG with alpha, which only libvips decodes (the control)
 */
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { encodeBmp, encodeRaw } from '../../src/pipeline/pixel-encoders.js';
import { rleBmp } from './bmp-rle.js';
import { fixture, post } from './http.js';
import { writePng } from './png-writer.js';
import { startTestServer } from './server.js';

type Loaded = { sharp: boolean; napi: boolean };

function loaded(): Loaded {
  const objects = (process.report.getReport() as unknown as { sharedObjects: string[] }).sharedObjects;
  return {
    sharp: objects.some((path) => /sharp-[^/]*\.node$|libvips/.test(path)),
    napi: objects.some((path) => /image\.[^/]*\.node$/.test(path)),
  };
}

function modules(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return modules(path);
    return entry.name.endsWith('.js') && !ENTRY_POINTS.includes(path) ? [path] : [];
  });
}

const SRC = fileURLToPath(new URL('../../src/', import.meta.url));
// They run on import (the CLI; the worker, which talks to its parent): the serve mode starts both kinds of thread.
const ENTRY_POINTS = [join(SRC, 'cli/main.js'), join(SRC, 'inference/worker.js')];
const report: Record<string, Loaded | number[]> = {};

if (process.argv[2] === 'import-all') {
  for (const path of modules(SRC)) await import(pathToFileURL(path).href);
  report.afterImport = loaded();
} else {
  const rgb = new Uint8Array(64 * 48 * 3).map((_, i) => (i * 7) & 0xff);
  const bodies: Array<[Uint8Array, string]> = [
    [fixture('frames/street100_416.jpg'), 'image/jpeg'],
    [encodeBmp(rgb, 64, 48), 'image/bmp'],
    [rleBmp({ width: 4, height: 2, bpp: 8, palette: [9, 9, 9], stream: [4, 0, 0, 0, 4, 0, 0, 1] }), 'image/bmp'],
    [encodeRaw(rgb, 64, 48, 'bgr24'), 'image/x-raw; width=64; height=48; format=bgr24'],
    [writePng({ width: 64, height: 48, colourType: 2, bitDepth: 8, samples: rgb }), 'image/png'],
  ];
  const statuses: number[] = [];
  for (const execution of ['workers', 'inline']) {
    const server = await startTestServer({
      workers: 1,
      execution,
      routes: [
        { path: '/score', processor: 'colorIntensity', options: {} },
        { path: '/motion', processor: 'motion', options: {} },
      ],
    });
    for (const path of ['/score', '/motion']) {
      for (const [body, type] of bodies) {
        statuses.push((await post(server.at(path), body, { 'content-type': type })).status);
      }
    }
    await server.close();
  }
  report.statuses = statuses;
  report.afterServing = loaded();
  // The control: a PNG with alpha, which only libvips decodes, must show up as libvips mapped.
  const rgba = new Uint8Array(64 * 48 * 4).map((_, i) => (i % 4 === 3 ? 128 : (i * 7) & 0xff));
  const server = await startTestServer({
    workers: 1,
    routes: [{ path: '/score', processor: 'colorIntensity', options: {} }],
  });
  report.control = [
    (
      await post(server.at('/score'), writePng({ width: 64, height: 48, colourType: 6, bitDepth: 8, samples: rgba }), {
        'content-type': 'image/png',
      })
    ).status,
  ];
  report.afterControl = loaded();
  await server.close();
}
process.stdout.write(`${JSON.stringify(report)}\n`);
process.exit(0);

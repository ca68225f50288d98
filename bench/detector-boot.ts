/**
 * Boot cost of objectDetection, old path against new: a server with one /detect route and N workers, started in a
 * fresh process per side: time until every worker is ready, and the process's RSS then.
 *
 *   npm run build && node dist/bench/detector-boot.js [--workers 2]
 */
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const { values } = parseArgs({ options: { workers: { type: 'string', default: '2' }, child: { type: 'string' } } });

if (values.child !== undefined) {
  const { performance } = await import('node:perf_hooks');
  const { startQuietServer } = await import('./quiet-server.js');
  const start = performance.now();
  const server = await startQuietServer(Number(values.workers), [{ path: '/detect', processor: values.child }]);
  const readyMs = performance.now() - start;
  const rssMb = process.memoryUsage().rss / 2 ** 20;
  await server.close();
  console.log(JSON.stringify({ readyMs, rssMb }));
} else {
  const sides = {
    'objectDetection@tfjs': new URL('./tfjs-object-detection.js', import.meta.url).href,
    objectDetection: 'objectDetection',
  };
  console.log(`| processor | workers | ready after, s | RSS when ready, MiB |\n|---|---:|---:|---:|`);
  for (const [name, spec] of Object.entries(sides)) {
    const out = execFileSync(
      process.execPath,
      [fileURLToPath(import.meta.url), '--child', spec, '--workers', values.workers],
      { encoding: 'utf8' },
    );
    const { readyMs, rssMb } = JSON.parse(out.trim().split('\n').at(-1)!) as { readyMs: number; rssMb: number };
    console.log(`| ${name} | ${values.workers} | ${(readyMs / 1000).toFixed(1)} | ${rssMb.toFixed(0)} |`);
  }
}

/**
 * The CenterNet's ONNX Runtime session options, measured: graph optimisation level x intra-op threads, ms per frame
 * for the network alone (the street frame, in one process). Rounds alternate the settings so that load on the machine
 * hits them alike; the median per setting is reported with its range.
 *
 *   npm run build && node dist/bench/centernet-session.js [--seconds 2 --rounds 3 --threads 1,2]
 */
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import sharp from 'sharp';
import { convertCenterNet } from '../src/processors/object-detection/centernet.js';
import { onnxRuntime } from '../src/vision/onnx-session.js';

const { values } = parseArgs({
  options: {
    seconds: { type: 'string', default: '2' },
    rounds: { type: 'string', default: '3' },
    threads: { type: 'string', default: '1,2' },
    levels: { type: 'string', default: 'disabled,basic,extended,all' },
  },
});
const ort = await onnxRuntime();
const model = await convertCenterNet();
const frame = fileURLToPath(new URL('../../test/fixtures/frames/street100_416.jpg', import.meta.url));
const rgb = await sharp(frame).resize(512, 512, { fit: 'contain', background: '#000' }).removeAlpha().raw().toBuffer();
const planar = new Float32Array(512 * 512 * 3);
for (let p = 0; p < 512 * 512; p++) for (let c = 0; c < 3; c++) planar[c * 512 * 512 + p] = rgb[p * 3 + c]!;
const input = new ort.Tensor('float32', planar, [1, 3, 512, 512]);

type Level = 'disabled' | 'basic' | 'extended' | 'all';
const settings = values.levels
  .split(',')
  .flatMap((level) => values.threads.split(',').map((t) => ({ level: level as Level, threads: Number(t) })));
const sessions = await Promise.all(
  settings.map((s) =>
    ort.InferenceSession.create(model, {
      graphOptimizationLevel: s.level,
      intraOpNumThreads: s.threads,
      interOpNumThreads: 1,
      executionMode: 'sequential',
    }),
  ),
);
const results = settings.map(() => [] as number[]);
for (const session of sessions) await session.run({ images: input });
for (let round = 0; round < Number(values.rounds); round++) {
  for (const [i, session] of sessions.entries()) {
    let frames = 0;
    const start = performance.now();
    while (performance.now() - start < Number(values.seconds) * 1000) {
      await session.run({ images: input });
      frames++;
    }
    results[i]!.push((performance.now() - start) / frames);
  }
}
console.log('| graph optimisation | intra-op threads | ms per frame, median (range) |\n|---|---:|---:|');
for (const [i, s] of settings.entries()) {
  const r = [...results[i]!].sort((a, b) => a - b);
  const median = r[Math.floor(r.length / 2)]!;
  console.log(`| ${s.level} | ${s.threads} | ${median.toFixed(1)} (${r[0]!.toFixed(1)}-${r.at(-1)!.toFixed(1)}) |`);
}

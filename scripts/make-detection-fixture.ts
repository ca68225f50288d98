/**
 * Writes test/fixtures/object-detection/tfjs-answers.json: what objectDetection answered on TensorFlow.js (the graph's
 * own decoding, before it moved to ONNX Runtime) for each test frame, through the real server. The ONNX Runtime
 * detector is held to these answers by test/object-detection.test.ts. Run once, with the TF.js development
 * dependencies installed: `npm run build && node dist/scripts/make-detection-fixture.js`.
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { Agent, request } from 'undici';
import { startQuietServer } from '../bench/quiet-server.js';
import type { Inference } from '../src/schema/inference.js';
import { packageFile } from '../src/vision/package-file.js';

export const DETECTION_FRAMES = [
  'street100_416.jpg',
  'street100_768x576.jpg',
  'signs_416.jpg',
  'messi_416.jpg',
  'fruits_416.jpg',
  'baboon_416.jpg',
];

const fixtures = new URL('../../test/fixtures/', import.meta.url);
const out = new URL('object-detection/tfjs-answers.json', fixtures);
const versionOf = (entry: string, relative: string) =>
  (JSON.parse(readFileSync(packageFile(entry, relative), 'utf8')) as { version: string }).version;
const tfjsVersion = (createRequire(import.meta.url)('@tensorflow/tfjs-core/package.json') as { version: string })
  .version;

const server = await startQuietServer(1, [
  { path: '/detect', processor: new URL('../bench/tfjs-object-detection.js', import.meta.url).href },
]);
const agent = new Agent();
const frames: Record<string, Array<{ label: string; confidence: number; box: object }>> = {};
for (const name of DETECTION_FRAMES) {
  const body = readFileSync(new URL(`frames/${name}`, fixtures));
  const response = await request(`${server.url}/detect`, { method: 'POST', body, dispatcher: agent });
  const text = await response.body.text();
  const inferences = response.statusCode === 204 ? [] : (JSON.parse(text) as { inferences: Inference[] }).inferences;
  frames[name] = inferences.flatMap((i) =>
    i.type === 'entity'
      ? [{ label: i.entity.tag.value, confidence: i.entity.tag.confidence ?? 0, box: i.entity.box }]
      : [],
  );
}
await agent.close();
await server.close();
mkdirSync(new URL('object-detection/', fixtures), { recursive: true });
const document = {
  producedBy: 'scripts/make-detection-fixture.ts',
  detector: `objectDetection on @tensorflow/tfjs-backend-wasm ${tfjsVersion}, CenterNet of @vladmandic/human ${versionOf('@vladmandic/human', '../package.json')}, default options`,
  frames,
};
writeFileSync(out, `${JSON.stringify(document, null, 2)}\n`);
console.log(`wrote ${out.pathname}`);

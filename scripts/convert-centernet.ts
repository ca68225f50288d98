/**
 * Writes the shipped CenterNet as an ONNX file: the TF.js graph model in node_modules/@vladmandic/human/models
 * (or `--from model.json`), converted by src/processors/object-detection/tfjs-to-onnx.ts, offline. objectDetection
 * does the same conversion in memory at load, so the server needs no file; this is for a fixed file to deploy
 * (objectDetection's `modelPath`) or to inspect.
 *
 *   npm run build && node dist/scripts/convert-centernet.js [OUT.onnx] [--from MODEL.json]   (default centernet.onnx)
 */
import { writeFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { convertCenterNet, defaultModelPath } from '../src/processors/object-detection/centernet.js';

export async function writeCenterNetOnnx(out: string, from: string = defaultModelPath()): Promise<number> {
  const bytes = await convertCenterNet(from);
  await writeFile(out, bytes);
  return bytes.byteLength;
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const { values, positionals } = parseArgs({ options: { from: { type: 'string' } }, allowPositionals: true });
  const out = resolve(positionals[0] ?? 'centernet.onnx');
  const from = values.from === undefined ? defaultModelPath() : resolve(values.from);
  const size = await writeCenterNetOnnx(out, from);
  console.log(`wrote ${out} (${size} bytes) from ${from}`);
}

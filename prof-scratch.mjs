import { readFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { decodeFrame } from './dist/src/inference/decode.js';
import { probeEncoded } from './dist/src/inference/probe.js';
import { fitFrame } from './dist/src/vision/letterbox.js';
import { toInputData, inputDims } from './dist/src/processors/onnx/input-tensor.js';
import { convertCenterNet } from './dist/src/processors/object-detection/centernet.js';
import { decodeCenterNet } from './dist/src/processors/object-detection/centernet-decoder.js';
import { createSession, onnxRuntime } from './dist/src/vision/onnx-session.js';
const ort = await onnxRuntime();
const body = readFileSync('test/fixtures/frames/street100_416.jpg');
const frame = await decodeFrame(new Uint8Array(body), probeEncoded(body), { maxReduction: 4, minReducedPixels: 512*512 });
const session = await createSession(await convertCenterNet(), { threads: 1 });
const input = { width: 512, height: 512, layout: 'NCHW', colorOrder: 'RGB', dtype: 'float32', mean: [0,0,0], std: [1,1,1], fit: 'letterbox', padValue: 0 };
const t = { fit: 0, tensor: 0, run: 0, decode: 0 };
for (let i = 0; i < 40; i++) {
  let a = performance.now();
  const fitted = await fitFrame(frame, 512, 512, 'letterbox', 0); let b = performance.now(); if (i >= 10) t.fit += b - a; a = b;
  const data = toInputData(fitted.rgb, input); const tensor = new ort.Tensor('float32', data, inputDims(input)); b = performance.now(); if (i >= 10) t.tensor += b - a; a = b;
  const r = await session.run({ images: tensor }); b = performance.now(); if (i >= 10) t.run += b - a; a = b;
  const [, classes, gh, gw] = r.heatmap.dims;
  decodeCenterNet({ heatmap: r.heatmap.data, wh: r.wh.data, classes, gridHeight: gh, gridWidth: gw, stride: 4 }, 0.3, 100); b = performance.now(); if (i >= 10) t.decode += b - a;
}
for (const k in t) console.log(k, (t[k] / 30).toFixed(2), 'ms');

/**
 * The one conformance suite every processor passes: each built-in (from the registry) and the example plug-in.
 * A new processor is covered by being registered.
 */

import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { pathToFileURL } from 'node:url';
import sharp from 'sharp';
import type { Frame } from '../src/contract/frame.js';
import type { ProcessorDefinition } from '../src/contract/processor.js';
import { decodeFrame } from '../src/inference/decode.js';
import { probeEncoded, probeRaw } from '../src/inference/probe.js';
import { encodeBmp, encodeRaw } from '../src/pipeline/pixel-encoders.js';
import { processorOptions } from '../src/processors/options.js';
import { BUILT_IN_PROCESSORS, loadProcessor, resolveProcessorUrl } from '../src/processors/registry.js';
import type { Inference, Rectangle } from '../src/schema/inference.js';
import { validateInferences } from '../src/schema/validate.js';
import { fixture } from './helpers/http.js';
import { writeTestModels } from './helpers/onnx-models.js';
import { EXAMPLE } from './helpers/server.js';

async function frames(): Promise<Array<[string, Frame]>> {
  const street = fixture('frames/street100_416.jpg');
  const tiny = new Uint8Array([255, 0, 0, 0, 255, 0, 0, 0, 255, 255, 255, 255]);
  const gray = await sharp(fixture('frames/messi_416.jpg')).greyscale().png().toBuffer();
  const big = await sharp(fixture('frames/street100_768x576.jpg')).resize(1920, 1440).jpeg().toBuffer();
  const black = encodeBmp(new Uint8Array(64 * 48 * 3), 64, 48);
  return [
    ['street 416 JPEG', await decodeFrame(street, probeEncoded(street))],
    ['street 416 JPEG reduced', await decodeFrame(street, probeEncoded(street), { maxReduction: 8 })],
    ['grey PNG', await decodeFrame(gray, probeEncoded(gray))],
    ['black BMP', await decodeFrame(black, probeEncoded(black))],
    ['2x2 raw rgb24', await decodeFrame(tiny, probeRaw(12, [{ width: 2, height: 2, format: 'rgb24' }]))],
    [
      '2x2 raw yuv420p',
      await decodeFrame(encodeRaw(tiny, 2, 2, 'yuv420p'), probeRaw(6, [{ width: 2, height: 2, format: 'yuv420p' }])),
    ],
    ['1920x1440 JPEG', await decodeFrame(big, probeEncoded(big), { maxReduction: 8, minReducedPixels: 16_384 })],
  ];
}

/**
 * Options a processor needs to run at all: `onnx` serves a model directory, here the tiny YOLOv8 test model
 * written at test time. Every other processor runs on its defaults.
 */
const modelsRoot = mkdtempSync(join(tmpdir(), 'hx-conformance-'));
writeTestModels(modelsRoot);
after(() => rmSync(modelsRoot, { recursive: true, force: true }));
const REQUIRED_OPTIONS: Record<string, Record<string, unknown>> = {
  onnx: { model: 'yolov8', modelsDir: modelsRoot },
};

const candidates: Array<[string, string]> = [
  ...BUILT_IN_PROCESSORS.map((name): [string, string] => [name, resolveProcessorUrl(name)]),
  ['examples/average-color', pathToFileURL(EXAMPLE).href],
];

for (const [label, url] of candidates) {
  describe(`conformance: ${label}`, () => {
    let definition: ProcessorDefinition;

    test('is pure at import: importing starts no timer, socket or thread', async () => {
      const lasting = () =>
        process.getActiveResourcesInfo().filter((r) => /Timeout|Immediate|TCP|Pipe|MessagePort|Worker|UDP/.test(r));
      // Let pending immediates run first: N-API finalizers of objects an earlier test freed (e.g. @napi-rs/image's
      // decoder) are queued as immediates, and would otherwise seem to vanish during the import.
      await new Promise((resolve) => setImmediate(resolve));
      const before = lasting();
      definition = await loadProcessor(url);
      assert.deepEqual(lasting(), before);
      assert.equal(typeof definition.name, 'string');
      assert.ok(definition.description.length > 0);
    });

    const required = REQUIRED_OPTIONS[label] ?? {};

    test('default options are valid; junk options are refused', () => {
      processorOptions(definition, required);
      assert.throws(() => processorOptions(definition, { ...required, noSuchOption: 1 }), /noSuchOption/);
    });

    test('answers schema-valid inferences (or none) on every kind of frame, boxes inside the image', async () => {
      const options = processorOptions(definition, required);
      const instance = await definition.create(options, { workerId: 0 });
      try {
        for (const [name, frame] of await frames()) {
          const needs = definition.frameRequirements?.(options) ?? {};
          assert.ok([undefined, 1, 2, 4, 8].includes(needs.maxReduction), `${name}: maxReduction`);
          // Twice in one stream: a stateful processor (motion) answers from the second frame on.
          for (let i = 0; i < 2; i++) {
            const request = { requestId: 'conformance', route: '/x', query: {}, stream: name };
            const output = await instance.process(frame, request);
            assert.ok(Array.isArray(output), `${name}: returns an array`);
            assert.deepEqual(validateInferences(output), [], `${name}: schema-valid`);
            for (const inference of output) checkNumbers(inference, name);
            checkIds(output, name);
          }
        }
      } finally {
        await instance.dispose?.();
        await instance.dispose?.(); // idempotent
      }
    });
  });
}

/** Inference ids are unique within an answer and related ids point into the same answer. */
function checkIds(output: Inference[], where: string): void {
  const ids = output.flatMap((inference) => (inference.inferenceId === undefined ? [] : [inference.inferenceId]));
  assert.equal(new Set(ids).size, ids.length, `${where}: inference ids are unique`);
  for (const inference of output) {
    for (const related of inference.relatedInferences ?? []) assert.ok(ids.includes(related), `${where}: ${related}`);
  }
}

function checkNumbers(inference: Inference, where: string): void {
  const box = (b: Rectangle | undefined) => {
    if (b === undefined) return;
    for (const v of [b.l, b.t, b.w, b.h]) assert.ok(v >= 0 && v <= 1, `${where}: box ${JSON.stringify(b)}`);
    assert.ok(b.l + b.w <= 1 + 1e-9 && b.t + b.h <= 1 + 1e-9, `${where}: box inside the image`);
  };
  const confidence = (c: number | undefined) => assert.ok(c === undefined || (c >= 0 && c <= 1), `${where}: ${c}`);
  if (inference.type === 'entity') {
    box(inference.entity.box);
    confidence(inference.entity.tag.confidence);
  } else if (inference.type === 'classification') confidence(inference.classification.tag.confidence);
  else if (inference.type === 'motion') box(inference.motion.box);
  else if (inference.type === 'event') box(inference.event.box);
}

import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { decodeFrame } from '../src/inference/decode.js';
import { probeEncoded } from '../src/inference/probe.js';
import type { Processor, ProcessorDefinition } from '../src/processors/processor.js';
import { BUILT_IN_PROCESSORS, loadProcessor, resolveProcessorUrl } from '../src/processors/registry.js';
import type { Inference } from '../src/schema/inference.js';
import { validateInferences } from '../src/schema/validate.js';
import { fixture } from './helpers/http.js';
import { writeTestModels } from './helpers/onnx-models.js';

/**
 * One conformance suite for every built-in processor: junk options fail parseOptions with a message, and on every
 * fixture frame the output is schema-valid, boxes lie in the image, scores in 0..1, inference ids are unique and
 * related ids point to inferences of the same answer.
 */
const FRAMES = readdirSync(new URL('../../test/fixtures/frames/', import.meta.url)).sort();

function tagsOf(inference: Inference): Array<{ confidence?: number | undefined }> {
  if (inference.type === 'entity') return [inference.entity.tag];
  if (inference.type === 'classification') return [inference.classification.tag];
  return [];
}

describe('processor conformance', () => {
  let root: string;
  before(() => {
    root = mkdtempSync(join(tmpdir(), 'hx-conformance-'));
    writeTestModels(root);
  });
  after(() => rmSync(root, { recursive: true, force: true }));

  const optionsOf = (name: string): Record<string, unknown> =>
    name === 'onnx' ? { model: 'yolov8', modelsDir: root } : {};

  for (const name of BUILT_IN_PROCESSORS) {
    describe(name, () => {
      let definition: ProcessorDefinition;
      let instance: Processor;
      before(async () => {
        definition = await loadProcessor(resolveProcessorUrl(name));
        instance = await definition.create(definition.parseOptions(optionsOf(name)), { workerId: 0 });
      });
      after(async () => {
        await instance.dispose?.();
        await instance.dispose?.();
      });

      it('rejects unknown options, naming them', () => {
        assert.throws(() => definition.parseOptions({ ...optionsOf(name), bogusOption: 1 }), /bogusOption/);
      });

      it('answers well-formed inferences on every fixture frame', async () => {
        for (const file of FRAMES) {
          const body = fixture(`frames/${file}`);
          const options = definition.parseOptions(optionsOf(name));
          const frame = await decodeFrame(
            new Uint8Array(body),
            probeEncoded(body),
            definition.frameRequirements?.(options) ?? {},
          );
          // Twice: stateful processors answer on the second frame of a stream.
          for (let i = 0; i < 2; i++) {
            const inferences = await instance.process(frame, { requestId: 'r', route: '/x', query: {}, stream: file });
            assert.ok(Array.isArray(inferences));
            assert.deepEqual(validateInferences(inferences), [], `${name} on ${file}`);
            const ids = inferences.flatMap((inf) => (inf.inferenceId === undefined ? [] : [inf.inferenceId]));
            assert.equal(new Set(ids).size, ids.length, 'inference ids are unique');
            for (const inference of inferences) {
              for (const related of inference.relatedInferences ?? []) assert.ok(ids.includes(related), related);
              for (const tag of tagsOf(inference)) {
                assert.ok(tag.confidence === undefined || (tag.confidence >= 0 && tag.confidence <= 1));
              }
            }
          }
        }
      });
    });
  }
});

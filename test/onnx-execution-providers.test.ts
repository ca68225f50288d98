import assert from 'node:assert/strict';
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { readModelConfig } from '../src/processors/onnx/model-config.js';
import { fixture, post } from './helpers/http.js';
import { writeTestModels } from './helpers/onnx-models.js';
import { startTestServer } from './helpers/server.js';

/** The yolov5 test model copied under `name` with `executionProviders` added to its model.json. */
function withProviders(root: string, name: string, providers: unknown): void {
  cpSync(join(root, 'yolov5'), join(root, name), { recursive: true });
  const path = join(root, name, 'model.json');
  const json = JSON.parse(readFileSync(path, 'utf8')) as Record<string, unknown>;
  writeFileSync(path, JSON.stringify({ ...json, executionProviders: providers }));
}

describe('onnx: executionProviders in model.json', () => {
  let root: string;
  before(() => {
    root = mkdtempSync(join(tmpdir(), 'hx-providers-'));
    writeTestModels(root);
    withProviders(root, 'on-cpu', ['cpu']);
    // DirectML exists on Windows builds only, Core ML on Apple's.
    withProviders(root, 'absent', [process.platform === 'win32' ? 'coreml' : 'dml', 'cpu']);
    withProviders(root, 'unknown', ['gpu']);
  });
  after(() => rmSync(root, { recursive: true, force: true }));

  it('defaults to the CPU provider and accepts it named', async () => {
    assert.deepEqual((await readModelConfig(join(root, 'yolov5'))).executionProviders, ['cpu']);
    const server = await startTestServer({
      workers: 1,
      routes: [{ path: '/m', processor: 'onnx', options: { model: 'on-cpu', modelsDir: root } }],
    });
    try {
      assert.equal((await post(server.at('/m'), fixture('frames/street100_416.jpg'))).status, 200);
    } finally {
      await server.close();
    }
  });

  it('rejects a provider name ONNX Runtime does not know', async () => {
    await assert.rejects(readModelConfig(join(root, 'unknown')), /\/executionProviders\/0: must be one of cpu, cuda/);
  });

  it("fails the boot on a provider this platform's runtime lacks, naming it", async () => {
    const server = await startTestServer(
      { workers: 1, routes: [{ path: '/m', processor: 'onnx', options: { model: 'absent', modelsDir: root } }] },
      { waitReady: false },
    );
    try {
      await assert.rejects(server.ready, (error: Error & { code?: string }) => {
        assert.equal(error.code, 'HX_ERR_PROCESSOR_LOAD');
        assert.match(error.message, /this onnxruntime-node has no (dml|coreml)/);
        return true;
      });
    } finally {
      await server.close();
    }
  });
});

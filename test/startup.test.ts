import assert from 'node:assert/strict';
import { once } from 'node:events';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { before, describe, test } from 'node:test';
import { CLI, run, startCli } from './helpers/cli.js';
import { fixture, post } from './helpers/http.js';
import { writeTestModels } from './helpers/onnx-models.js';
import { doubleUrl } from './helpers/server.js';

/**
 * Fail fast: what cannot serve must not start. `serve` exits 1 with the reason on stderr instead of staying live and
 * never ready, and `httpextension config` refuses (exit 2) exactly what `serve` would.
 */

let dir: string;
let copies = 0;
before(() => {
  dir = mkdtempSync(join(tmpdir(), 'hx-startup-'));
  writeTestModels(dir);
});

/** A copy of the test model `name` (same model.onnx) whose model.json is changed by `edit`; returns its folder. */
function editedModel(name: string, edit: (json: { input: Record<string, unknown> } & Record<string, unknown>) => void) {
  const copy = join(dir, `${name}-edited-${copies++}`);
  mkdirSync(copy);
  copyFileSync(join(dir, name, 'model.onnx'), join(copy, 'model.onnx'));
  const json = JSON.parse(readFileSync(join(dir, name, 'model.json'), 'utf8'));
  edit(json);
  writeFileSync(join(copy, 'model.json'), JSON.stringify(json));
  return copy;
}

/** A config file serving one route. */
function configWith(route: object): string {
  const file = join(dir, `config-${copies++}.json`);
  writeFileSync(file, JSON.stringify({ routes: [{ path: '/x', ...route }] }));
  return file;
}

const cases: Array<[string, () => object, RegExp]> = [
  [
    'a model.json with an unknown key',
    () => ({ processor: 'onnx', options: { model: editedModel('yolov5', (j) => (j.colour = 'red')) } }),
    /model\.json: \/: unknown key "colour"/,
  ],
  [
    'a model.json whose input size the model does not take',
    () => ({ processor: 'onnx', options: { model: editedModel('yolov5', (j) => (j.input.width = 416)) } }),
    /yolov5-edited-\d+[/\\]model\.json: the model does not take its input as described \(416x320 NCHW\)/,
  ],
  [
    'a processor whose create() throws',
    () => ({ processor: doubleUrl('fails-to-create') }),
    /the model file weights\.bin is missing/,
  ],
];

describe('fail fast at start', () => {
  for (const [what, route, reason] of cases) {
    test(`${what}: serve exits 1 with the reason on stderr; config exits 2 with it`, async () => {
      const file = configWith(route());
      const served = await run(process.execPath, [CLI, 'serve', '-c', file, '-p', '0', '--host', '127.0.0.1']);
      assert.equal(served.code, 1, served.stderr);
      assert.match(served.stderr, /httpextension: cannot serve: /);
      assert.match(served.stderr, reason);
      const checked = await run(process.execPath, [CLI, 'config', '-c', file]);
      assert.equal(checked.code, 2, checked.stdout);
      assert.match(checked.stderr, /HX_ERR_CONFIG_INVALID: A processor cannot be created: /);
      assert.match(checked.stderr, reason);
      assert.equal(checked.stdout, '', 'nothing printed for a configuration serve would refuse');
    });
  }

  test('processors not loaded within startupTimeoutMs: serve exits 1 and says so', async () => {
    const file = configWith({ processor: doubleUrl('never-ready') });
    const served = await run(process.execPath, [CLI, '-c', file, '-p', '0', '--startup-timeout-ms', '200']);
    assert.equal(served.code, 1);
    assert.match(served.stderr, /did not become ready within startupTimeoutMs \(200 ms\)/);
  });

  test('a configuration serve accepts passes config (exit 0)', async () => {
    const file = configWith({ processor: 'onnx', options: { model: join(dir, 'yolov5') } });
    const checked = await run(process.execPath, [CLI, 'config', '-c', file]);
    assert.equal(checked.code, 0, checked.stderr);
    assert.equal(JSON.parse(checked.stdout).routes[0].path, '/x');
  });
});

describe('a worker that keeps failing to restart', () => {
  test('is replaced while it can be; when its replacements cannot start, serve stops with exit 1', async () => {
    const marker = join(dir, 'started-once');
    const file = configWith({ processor: doubleUrl('starts-once'), options: { marker } });
    const server = await startCli(['-c', file, '--workers', '1']);
    const crashed = await post(`${server.url}/x?do=crash`, fixture('frames/messi_416.jpg'));
    assert.equal(crashed.status, 500);
    const [code] = server.child.exitCode === null ? await once(server.child, 'exit') : [server.child.exitCode];
    assert.equal(code, 1);
    assert.match(server.output(), /cannot serve: .*failed to start 3 times in a row/);
  });
});

import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { DEFAULTS } from '../src/config/defaults.js';
import { loadConfig } from '../src/config/load.js';
import { InferenceEngine } from '../src/inference/engine.js';
import { run } from './helpers/cli.js';

const dir = mkdtempSync(join(tmpdir(), 'hx-config-'));
const file = (name: string, text: string) => {
  const path = join(dir, name);
  writeFileSync(path, text);
  return path;
};
const CLI = fileURLToPath(new URL('../src/cli/main.js', import.meta.url));

describe('configuration', () => {
  test('defaults < file < environment < flags', () => {
    const yaml = file('layers.yaml', 'port: 6000\nworkers: 3\nmaxQueuedRequests: 9\nlogLevel: warn\n');
    assert.equal(loadConfig({ env: {} }).port, 5001);
    const fromFile = loadConfig({ file: yaml, env: {} });
    assert.deepEqual([fromFile.port, fromFile.workers, fromFile.maxQueuedRequests], [6000, 3, 9]);
    const fromEnv = loadConfig({ file: yaml, env: { HX_PORT: '7000', HX_WORKERS: '4' } });
    assert.deepEqual([fromEnv.port, fromEnv.workers, fromEnv.maxQueuedRequests], [7000, 4, 9]);
    const fromFlags = loadConfig({ file: yaml, env: { HX_PORT: '7000' }, flags: { port: 8000 } });
    assert.deepEqual([fromFlags.port, fromFlags.workers, fromFlags.logLevel], [8000, 3, 'warn']);
    assert.equal(fromFlags.maxBodyBytes, DEFAULTS.maxBodyBytes);
    assert.ok(Object.isFrozen(fromFlags) && Object.isFrozen(fromFlags.routes));
  });

  test('a JSON file works too, and HX_CONFIG names the file', () => {
    const json = file('c.json', JSON.stringify({ routes: [{ path: '/analyze', processor: 'colorIntensity' }] }));
    const config = loadConfig({ env: { HX_CONFIG: json } });
    assert.deepEqual(config.routes, [{ path: '/analyze', processor: 'colorIntensity', options: {} }]);
  });

  test('unknown keys are rejected and every problem is reported at once', () => {
    const bad = file('bad.yaml', 'prot: 5001\nmaxBodyBytes: -1\nraw: { format: yuv422 }\nroutes: []\n');
    assert.throws(
      () => loadConfig({ file: bad, env: { HX_WORKRS: '2', HX_PORT: 'eighty' } }),
      (error: Error & { code?: string }) => {
        assert.equal(error.code, 'HX_ERR_CONFIG_INVALID');
        for (const expected of [
          'unknown variable HX_WORKRS',
          'unknown key "prot"',
          '/maxBodyBytes must be >= 1',
          '/raw/format: must be one of',
          '/routes must NOT have fewer than 1 items',
          '/port must be integer',
        ]) {
          assert.ok(error.message.includes(expected), `missing "${expected}" in:\n${error.message}`);
        }
        return true;
      },
    );
  });

  test('duplicate and reserved route paths are refused', () => {
    assert.throws(
      () =>
        loadConfig({
          env: {},
          flags: {
            routes: [
              { path: '/a', processor: 'colorIntensity' },
              { path: '/a', processor: 'colorIntensity' },
              { path: '/metrics', processor: 'colorIntensity' },
            ],
          },
        }),
      /path \/a appears twice[\s\S]*path \/metrics is reserved/,
    );
  });

  test('processor options are validated at boot, every route at once', async () => {
    await assert.rejects(
      InferenceEngine.prepare({
        routes: [
          { path: '/a', processor: 'colorIntensity', options: { threshold: 'x' } },
          { path: '/b', processor: 'noSuchProcessor', options: {} },
          { path: '/c', processor: './missing-file.js', options: {} },
        ],
        workers: 1,
        maxQueuedRequests: 1,
        maxPixels: 1e8,
      }),
      (error: Error) => {
        assert.match(error.message, /route \/a \(colorIntensity\): \/threshold must be number/);
        assert.match(error.message, /route \/b \(noSuchProcessor\): Unknown processor "noSuchProcessor"/);
        assert.match(error.message, /route \/c \(\.\/missing-file\.js\): Processor module .* could not be imported/);
        return true;
      },
    );
  });

  test('the CLI reports a bad configuration with its code and exits 2', async () => {
    const result = await run(process.execPath, [CLI, 'config', '--max-pixels', '0'], {
      env: { PATH: process.env.PATH },
    });
    assert.equal(result.code, 2);
    assert.match(result.stderr, /HX_ERR_CONFIG_INVALID: Invalid configuration:\n {2}- \/maxPixels must be >= 1/);
  });

  test('--help documents every option', async () => {
    const result = await run(process.execPath, [CLI, 'serve', '--help']);
    for (const option of [
      '--port',
      '--host',
      '--config',
      '--workers',
      '--max-body-bytes',
      '--max-pixels',
      '--request-timeout-ms',
      '--max-queued-requests',
      '--route',
      '--log-level',
      '--shutdown-grace-ms',
      '--tls-cert',
      '--tls-key',
      '--tls-ca',
      '--auth',
      '--metrics-port',
      '--no-metrics',
    ]) {
      assert.ok(result.stdout.includes(option), option);
    }
  });
});

describe('docs/configuration.md', () => {
  test('its complete YAML example uses only known keys and valid values', async () => {
    const { readFileSync } = await import('node:fs');
    const { parse } = await import('yaml');
    const doc = readFileSync(new URL('../../docs/configuration.md', import.meta.url), 'utf8');
    const yaml = /```yaml\n([\s\S]*?)```/.exec(doc)![1]!;
    const example = parse(yaml) as Record<string, Record<string, unknown>>;
    // Point the secret and certificate files at real files: only the keys and values are under test here.
    const secret = file('secret', 'x\n');
    const users = (example.auth!.users as Array<Record<string, unknown>>).map((u) => ({ ...u, passwordFile: secret }));
    example.auth = { ...example.auth, users, tokenFiles: [secret] };
    example.tls = { ...example.tls, certFile: secret, keyFile: secret };
    const config = loadConfig({ file: file('example.json', JSON.stringify(example)), env: {} });
    assert.equal(config.routes.length, 2);
    assert.deepEqual(config.auth.schemes, ['digest', 'bearer']);
  });
});

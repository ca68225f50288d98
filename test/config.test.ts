import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { parse } from 'yaml';
import { renderConfigurationDoc, renderReadme } from '../scripts/config-doc.js';
import { flagHelp } from '../src/cli/config-flags.js';
import { routeFromFlag } from '../src/cli/route-flag.js';
import { type Config, cpuBudget, DEFAULTS, effectiveWorkers } from '../src/config/defaults.js';
import { envToLayer, loadConfig } from '../src/config/load.js';
import { ENV_VARIABLES, SETTINGS } from '../src/config/settings.js';
import { InferenceEngine } from '../src/inference/engine.js';
import { BUILT_IN_PROCESSORS, loadProcessor, resolveProcessorUrl } from '../src/processors/registry.js';
import { run, SCORE_ONLY } from './helpers/cli.js';

const dir = mkdtempSync(join(tmpdir(), 'hx-config-'));
const file = (name: string, text: string) => {
  const path = join(dir, name);
  writeFileSync(path, text);
  return path;
};
/** The value at a config path in a plain object (a numeric segment indexes an array). */
function valueAt(root: unknown, path: readonly string[]): unknown {
  let node = root;
  for (const key of path)
    node = node === null || typeof node !== 'object' ? undefined : (node as Record<string, unknown>)[key];
  return node;
}

const tlsFixture = (name: string) => fileURLToPath(new URL(`../../test/fixtures/tls/${name}`, import.meta.url));
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

  test('a delay longer than a Node timer holds is refused (it would fire at once)', () => {
    assert.throws(
      () => loadConfig({ env: { HX_REQUEST_TIMEOUT_MS: String(2 ** 31), HX_SHUTDOWN_GRACE_MS: String(2 ** 31 - 1) } }),
      (error: Error) => error.message === 'Invalid configuration:\n  - /requestTimeoutMs must be <= 2147483647',
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

  test('--help lists a flag for every flagged setting, with its real default and its variable', async () => {
    const result = await run(process.execPath, [CLI, 'serve', '--help']);
    const help = result.stdout.replace(/\s+/g, ' ');
    assert.ok(help.includes('--config <file>'));
    for (const setting of SETTINGS.filter((s) => s.flag !== undefined)) {
      assert.ok(help.includes(`${setting.flag} ${flagHelp(setting)}`.replace(/\s+/g, ' ')), setting.key);
    }
    const routes = DEFAULTS.routes.map((r) => `${r.path}=${r.processor}`);
    assert.ok(routes.length > 1 && routes.every((route) => help.includes(route)), 'every default route is named');
  });

  test('serve --help lists every built-in processor with its options from its own schema', async () => {
    const help = (await run(process.execPath, [CLI, 'serve', '--help'])).stdout;
    for (const name of BUILT_IN_PROCESSORS) {
      const definition = await loadProcessor(resolveProcessorUrl(name));
      assert.ok(help.includes(`  ${name}: ${definition.description}`), name);
      for (const option of Object.keys(definition.options?.properties ?? {})) {
        assert.match(help, new RegExp(`options: .*\\b${option} \\(`), `${name}.${option}`);
      }
    }
  });

  test("--route PATH=PROCESSOR,KEY=VALUE: the route's own keys, options of the processor, JSON values", async () => {
    const routes = [
      '/v=onnx,model=yolov8n,modelsDir=/srv/models,threads=2',
      '/a=objectDetection,annotate,minConfidence=0.45,executionProviders=["cuda","cpu"],auth=[],execution=workers',
      '/n=./mine.js,options.auth=x,nested.depth=3,label="007",list=[1,2]',
    ];
    const parsed = routes.map((spec) => routeFromFlag(spec));
    assert.deepEqual(parsed, [
      { path: '/v', processor: 'onnx', options: { model: 'yolov8n', modelsDir: '/srv/models', threads: 2 } },
      {
        path: '/a',
        processor: 'objectDetection',
        annotate: true,
        auth: [],
        execution: 'workers',
        options: { minConfidence: 0.45, executionProviders: ['cuda', 'cpu'] },
      },
      { path: '/n', processor: './mine.js', options: { auth: 'x', nested: { depth: 3 }, label: '007', list: [1, 2] } },
    ]);
    for (const bad of ['/x', '=colorIntensity', '/x=', '/x=motion,=3', '/x=motion,a..b=1', '/x=motion,__proto__.y=1']) {
      assert.throws(() => routeFromFlag(bad), /--route .*: .*; use PATH=PROCESSOR\[,KEY=VALUE\.\.\.\]/, bad);
    }
    // Through the real CLI, validated as serve validates it: a bad option is refused by the processor at boot.
    const ok = await run(process.execPath, [
      CLI,
      'config',
      '--route',
      '/s=colorIntensity,threshold=100,execution=inline',
    ]);
    assert.equal(ok.code, 0, ok.stderr);
    assert.deepEqual((JSON.parse(ok.stdout) as Config).routes, [
      { path: '/s', processor: 'colorIntensity', options: { threshold: 100 }, execution: 'inline' },
    ]);
    const refused = await run(process.execPath, [CLI, 'config', '--route', '/s=colorIntensity,threshold=dark']);
    assert.equal(refused.code, 2);
    assert.match(refused.stderr, /route \/s \(colorIntensity\).*threshold/);
  });

  test('flags set the config paths the schema gives them; only the explicit --no-metrics turns metrics off', async () => {
    const args = ['config', '-p', '7', '--execution', 'inline', '--route', '/a=colorIntensity', '--route', '/b=motion'];
    args.push('--auth', 'bearer, basic', '--metrics-port', '9100', '--max-pixels', '100');
    const env = { PATH: process.env.PATH, HX_AUTH_TOKEN: 't', HX_AUTH_USERNAME: 'u', HX_AUTH_PASSWORD: 'p' };
    const result = await run(process.execPath, [CLI, ...args], { env });
    assert.equal(result.code, 0, result.stderr);
    const config = JSON.parse(result.stdout) as Config;
    assert.deepEqual(
      [config.port, config.execution, config.maxPixels, config.auth.schemes, config.metrics],
      [7, 'inline', 100, ['bearer', 'basic'], { enabled: true, port: 9100, auth: false }],
    );
    assert.deepEqual(config.routes, [
      { path: '/a', processor: 'colorIntensity', options: {} },
      { path: '/b', processor: 'motion', options: {} },
    ]);
    const off = await run(process.execPath, [CLI, 'config', '--no-metrics', ...SCORE_ONLY], {
      env: { PATH: process.env.PATH },
    });
    assert.equal((JSON.parse(off.stdout) as Config).metrics.enabled, false);
  });

  test('every HX_* variable of the schema sets its path', () => {
    const values: Record<string, string> = {};
    for (const [name, variable] of ENV_VARIABLES) values[name] = variable.kind === 'json' ? '[]' : 'x';
    const problems: string[] = [];
    const layer = envToLayer(values, problems);
    assert.deepEqual(problems, []);
    for (const [name, variable] of ENV_VARIABLES) {
      assert.notEqual(valueAt(layer, variable.path), undefined, name);
    }
  });
});

describe('CPUs: the defaults of workers and processes', () => {
  /** A file system of a few files; any other path is absent. */
  const files =
    (contents: Record<string, string>) =>
    (path: string): string => {
      const text = contents[path];
      if (text === undefined) throw Object.assign(new Error(`ENOENT: ${path}`), { code: 'ENOENT' });
      return text;
    };
  const v1 = (quota: string) =>
    files({
      '/proc/self/cgroup': '9:cpu,cpuacct:/\n1:name=systemd:/\n',
      '/sys/fs/cgroup/cpu/cpu.cfs_quota_us': `${quota}\n`,
      '/sys/fs/cgroup/cpu/cpu.cfs_period_us': '100000\n',
    });

  test('a cgroup CPU quota caps the cores Node reports (docker --cpus, a Kubernetes limit), rounded up', () => {
    const v2 = (max: string, path = '/') =>
      files({ '/proc/self/cgroup': `0::${path}\n`, [`/sys/fs/cgroup${path === '/' ? '' : path}/cpu.max`]: `${max}\n` });
    assert.equal(cpuBudget(v2('200000 100000'), 32), 2);
    assert.equal(cpuBudget(v2('150000 100000'), 32), 2);
    assert.equal(cpuBudget(v2('50000 100000'), 32), 1);
    assert.equal(cpuBudget(v2('max 100000'), 32), 32);
    assert.equal(cpuBudget(v2('400000 100000', '/system.slice/hx.service'), 32), 4, "the process's own group");
    assert.equal(cpuBudget(v2('800000 100000'), 4), 4, 'never more than the cores it may run on');
    assert.equal(cpuBudget(v1('300000'), 32), 3);
    assert.equal(cpuBudget(v1('-1'), 8), 8, 'v1 without a quota');
    assert.equal(cpuBudget(files({}), 6), 6, 'no cgroup files at all');
    assert.equal(cpuBudget(files({}), 0), 1);
  });

  test('workers 0 shares the CPUs among the processes: one model copy per CPU in all', () => {
    const cores = cpuBudget();
    assert.equal(effectiveWorkers({ workers: 0, processes: 1 }), cores);
    assert.equal(effectiveWorkers({ workers: 0, processes: 0 }), 1);
    assert.equal(effectiveWorkers({ workers: 3, processes: 0 }), 3, 'a number given is kept');
    assert.equal(effectiveWorkers({ workers: 0, processes: cores * 4 }), 1, 'at least one');
  });
});

describe('config refuses what serve would refuse', () => {
  for (const [what, env, expected] of [
    [
      'headers timeout over the body timeout (Node refuses the server)',
      { HX_HEADERS_TIMEOUT_MS: '40000' },
      'headersTimeoutMs (40000) must not exceed bodyTimeoutMs (30000)',
    ],
    ['/metrics on the main port', { HX_PORT: '7001', HX_METRICS_PORT: '7001' }, 'metrics.port: 7001 is the main port'],
    [
      "a key that is not the certificate's",
      { HX_TLS_CERT: tlsFixture('extension-test.pem'), HX_TLS_KEY: tlsFixture('ip-key.pem') },
      'cannot serve HTTPS',
    ],
    [
      'a certificate file that is not PEM',
      { HX_TLS_CERT: tlsFixture('make-certs.sh'), HX_TLS_KEY: tlsFixture('extension-test-key.pem') },
      'cannot serve HTTPS',
    ],
  ] as const) {
    test(what, async () => {
      for (const command of ['config', 'serve']) {
        const result = await run(process.execPath, [CLI, command, '--workers', '1'], {
          env: { PATH: process.env.PATH, ...env },
        });
        assert.equal(result.code, 2, `${command}: ${result.stderr}`);
        assert.match(result.stderr, /HX_ERR_CONFIG_INVALID: Invalid configuration:/);
        assert.ok(result.stderr.includes(expected), `${command}: ${result.stderr}`);
      }
    });
  }

  test('a matching certificate and key pass', () => {
    const env = { HX_TLS_CERT: tlsFixture('extension-test.pem'), HX_TLS_KEY: tlsFixture('extension-test-key.pem') };
    assert.equal(loadConfig({ env }).tls.certFile, env.HX_TLS_CERT);
  });
});

describe('README.md and docs/configuration.md', () => {
  const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');
  const doc = readFileSync(new URL('../../docs/configuration.md', import.meta.url), 'utf8');

  test('are the schema (regenerate with npm run docs:config)', () => {
    assert.equal(readme, renderReadme(readme));
    assert.equal(doc, renderConfigurationDoc(doc));
    for (const setting of SETTINGS) {
      assert.ok(readme.includes(`| \`${setting.key}\` |`), setting.key);
      assert.ok(doc.includes(`| \`${setting.key}\` |`), setting.key);
    }
  });
});

describe('docs/configuration.md', () => {
  test('its complete YAML example holds every setting, with valid values', () => {
    const doc = readFileSync(new URL('../../docs/configuration.md', import.meta.url), 'utf8');
    const yaml = /```yaml\n([\s\S]*?)```/.exec(doc)![1]!;
    const example = parse(yaml) as Record<string, Record<string, unknown>>;
    // Point the secret and certificate files at real files: only the keys and values are under test here.
    const secret = file('secret', 'x\n');
    const users = (example.auth!.users as Array<Record<string, unknown>>).map((u) => ({ ...u, passwordFile: secret }));
    example.auth = { ...example.auth, users, tokenFiles: [secret] };
    const certFile = tlsFixture('extension-test.pem');
    example.tls = {
      ...example.tls,
      certFile,
      keyFile: tlsFixture('extension-test-key.pem'),
      caFile: tlsFixture('ca.pem'),
    };
    for (const setting of SETTINGS) assert.notEqual(valueAt(example, setting.path), undefined, setting.key);
    const config = loadConfig({ file: file('example.json', JSON.stringify(example)), env: {} });
    assert.equal(config.routes.length, 2);
    assert.deepEqual(config.auth.schemes, ['digest', 'bearer']);
  });
});

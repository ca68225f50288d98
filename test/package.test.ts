import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { type CliServer, run, startCli } from './helpers/cli.js';
import { fixture, get, post } from './helpers/http.js';

/*
 * The package as a user gets it: `npm pack`, then `npm init -y && npm install ./httpextension-X.Y.Z.tgz` in an empty
 * folder, with no variable or flag (the outer npm's npm_config_* and CI's ONNXRUNTIME_NODE_INSTALL are not passed
 * on; --prefer-offline only lets npm take what its cache holds without asking the registry again), then the installed bin serves processor files written from the docs in all four module flavours.
 */

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const jpeg = fixture('frames/baboon_416.jpg');
const userEnv = { PATH: process.env.PATH, HOME: process.env.HOME };

/** The docs' processor, in a given module syntax: its tag says which file answered. */
function processorSource(tag: string, esm: boolean): string {
  const imports = esm
    ? "import { defineProcessor, toRgb24 } from 'httpextension';\nexport default "
    : "const { defineProcessor, toRgb24 } = require('httpextension');\nmodule.exports = ";
  return `${imports}defineProcessor({
  name: '${tag}',
  description: 'answers its own name and the RGB byte count',
  options: { type: 'object', additionalProperties: false, properties: { threshold: { type: 'number', default: 0 } } },
  create: (options) => ({
    process: (frame) => [
      { type: 'classification', subtype: '${tag}', classification: { tag: { value: String(toRgb24(frame).length + options.threshold), confidence: 1 } } },
    ],
  }),
});
`;
}

describe('the packed package, installed into an empty folder', () => {
  let dir: string;
  let installLog: string;
  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'hx-package-'));
    // dist/ is built by `npm test` before any test runs: packing it again is all that is left to do.
    const pack = await run('npm', ['pack', '--ignore-scripts', '--pack-destination', dir, '--json', ROOT], {
      env: userEnv,
    });
    assert.equal(pack.code, 0, pack.stderr);
    const [{ filename }] = JSON.parse(pack.stdout) as [{ filename: string }];
    const app = join(dir, 'app');
    mkdirSync(app);
    assert.equal((await run('npm', ['init', '-y'], { env: userEnv, cwd: app })).code, 0);
    const install = await run('npm', ['install', '--prefer-offline', '--no-audit', '--no-fund', join(dir, filename)], {
      env: userEnv,
      cwd: app,
    });
    installLog = install.stdout + install.stderr;
    assert.equal(install.code, 0, installLog);
    dir = app;
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  test('installs with no EBADENGINE on this Node and no warning about our npm config', () => {
    assert.doesNotMatch(installLog, /EBADENGINE|Unknown (project|user|env) config|npm error/);
    assert.match(installLog, /added \d+ packages/);
    const manifest = JSON.parse(readFileSync(join(dir, 'node_modules/httpextension/package.json'), 'utf8')) as {
      engines: { node: string };
    };
    assert.equal(manifest.engines.node, '^20.19.0 || >=22.12.0');
    // Development-only and single-feature packages are not installed for a user.
    for (const name of ['typescript', '@biomejs/biome', '@tensorflow/tfjs-core', '@ffmpeg-installer/ffmpeg']) {
      assert.equal(existsSync(join(dir, 'node_modules', name)), false, name);
    }
  });

  describe('serves processor files in every module flavour', () => {
    let server: CliServer;
    before(async () => {
      assert.equal((JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as { type: string }).type, 'commonjs');
      writeFileSync(join(dir, 'esm.mjs'), processorSource('mjs', true));
      writeFileSync(join(dir, 'cjs.cjs'), processorSource('cjs', false));
      writeFileSync(join(dir, 'plain.js'), processorSource('jsCommonjs', false));
      mkdirSync(join(dir, 'esm'));
      writeFileSync(join(dir, 'esm/package.json'), '{ "type": "module" }\n');
      writeFileSync(join(dir, 'esm/plain.js'), processorSource('jsModule', true));
      const routes = ['/mjs=./esm.mjs', '/cjs=./cjs.cjs,threshold=1', '/js=./plain.js', '/esm=./esm/plain.js'];
      server = await startCli(
        routes.flatMap((r) => ['--route', r]),
        {},
        { cli: join(dir, 'node_modules/.bin/httpextension'), cwd: dir },
      );
    });
    after(() => server.stop());

    test('.mjs, .cjs, .js under "type": "commonjs" and .js under "type": "module"', async () => {
      const answers: Record<string, string> = {};
      for (const route of ['mjs', 'cjs', 'js', 'esm']) {
        const answer = await post(`${server.url}/${route}`, jpeg);
        assert.equal(answer.status, 200, answer.text);
        const { inferences } = JSON.parse(answer.text) as {
          inferences: Array<{ subtype: string; classification: { tag: { value: string } } }>;
        };
        answers[route] = `${inferences[0]!.subtype} ${inferences[0]!.classification.tag.value}`;
      }
      const rgb = 416 * 416 * 3;
      assert.deepEqual(answers, {
        mjs: `mjs ${rgb}`,
        cjs: `cjs ${rgb + 1}`,
        js: `jsCommonjs ${rgb}`,
        esm: `jsModule ${rgb}`,
      });
      // The README's quick start scores the frame the package ships.
      const frame = join(dir, 'node_modules/httpextension/test/fixtures/frames/baboon_416.jpg');
      const bin = join(dir, 'node_modules/.bin/httpextension');
      const scored = await run(process.execPath, [bin, 'score', frame, '--url', `${server.url}/mjs`], { cwd: dir });
      assert.equal(scored.code, 0, scored.stderr);
      assert.equal((JSON.parse(scored.stdout) as { inferences: unknown[] }).inferences.length, 1);
      const index = JSON.parse((await get(`${server.url}/`)).text) as { routes: Array<{ path: string }> };
      assert.deepEqual(
        index.routes.map((r) => r.path),
        ['/mjs', '/cjs', '/js', '/esm'],
      );
    });
  });

  test('with no routes configured it serves what this installation can run, and says what it leaves out', async () => {
    const result = await run(process.execPath, [join(dir, 'node_modules/.bin/httpextension'), 'config'], {
      env: userEnv,
      cwd: dir,
    });
    assert.equal(result.code, 0, result.stderr);
    const served = (JSON.parse(result.stdout) as { routes: Array<{ path: string }> }).routes.map((r) => r.path);
    if (existsSync(join(dir, 'node_modules/onnxruntime-node'))) {
      assert.deepEqual(served, ['/score', '/detect', '/annotate', '/motion', '/ocr']);
    } else {
      // npm dropped the optional runtime: its install script could not reach the CUDA binaries' host.
      assert.deepEqual(served, ['/score', '/motion']);
      for (const path of ['/detect', '/annotate', '/ocr']) {
        assert.match(result.stderr, new RegExp(`not serving the default route ${path} .*npm install onnxruntime-node`));
      }
    }
  });

  test("an editor sees the package's types, in ESM and in CommonJS", async () => {
    writeFileSync(join(dir, 'typed.mjs'), processorSource('typed', true));
    writeFileSync(join(dir, 'typed.cjs'), processorSource('typed', false));
    writeFileSync(
      join(dir, 'wrong.mjs'),
      "import { defineProcessor } from 'httpextension';\nexport default defineProcessor({ name: 7, create: () => ({ process: () => [] }) });\n",
    );
    const tsc = join(ROOT, 'node_modules/typescript/bin/tsc');
    const flags = [
      '--noEmit',
      '--skipLibCheck',
      '--allowJs',
      '--checkJs',
      '--strict',
      '--module',
      'nodenext',
      '--target',
      'es2022',
    ];
    flags.push('--typeRoots', join(ROOT, 'node_modules/@types'), '--types', 'node');
    // One compiler run for the three files (each run loads Node's types again): tsc names the file of every error,
    // so the typed files are clean exactly when every error line is wrong.mjs's.
    const checked = await run(process.execPath, [tsc, ...flags, 'typed.mjs', 'typed.cjs', 'wrong.mjs'], { cwd: dir });
    assert.equal(checked.code, 2, checked.stdout);
    const errors = checked.stdout.split('\n').filter((line) => /error TS\d+/.test(line));
    assert.deepEqual(
      errors.filter((line) => !line.startsWith('wrong.mjs(')),
      [],
    );
    assert.match(checked.stdout, /wrong\.mjs\(2,\d+\): error TS2322: Type 'number' is not assignable to type 'string'/);
  });
});

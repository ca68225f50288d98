import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { CLI, run } from './helpers/cli.js';
import { startTestServer, type TestServer } from './helpers/server.js';

const image = fileURLToPath(new URL('../../test/fixtures/frames/baboon_416.jpg', import.meta.url));
const PASSWORD = 'cli-pa55word';

function score(args: string[], env: NodeJS.ProcessEnv = {}) {
  return run(process.execPath, [CLI, 'score', image, ...args], { env: { PATH: process.env.PATH, ...env } });
}

describe('httpextension score', () => {
  let server: TestServer;
  before(async () => {
    server = await startTestServer(
      {
        workers: 1,
        routes: [
          { path: '/score', processor: 'colorIntensity', options: {}, auth: [] },
          { path: '/annotate', processor: 'colorIntensity', options: {}, annotate: true, auth: [] },
          { path: '/basic', processor: 'colorIntensity', options: {}, auth: ['basic'] },
          { path: '/digest', processor: 'colorIntensity', options: {}, auth: ['digest'] },
        ],
      },
      { env: { HX_AUTH: 'basic,digest', HX_AUTH_USERNAME: 'pipeline', HX_AUTH_PASSWORD: PASSWORD } },
    );
  });
  after(() => server.close());

  test('stdout is the answer body alone (jq-ready); the status and timing go to stderr', async () => {
    const result = await score(['--url', server.at('/score?camera=1')]);
    assert.equal(result.code, 0, result.stderr);
    const body = JSON.parse(result.stdout) as { inferences: Array<{ classification: { tag: { value: string } } }> };
    assert.equal(body.inferences[0]!.classification.tag.value, 'light');
    assert.match(
      result.stderr,
      /^HTTP 200 in \d+\.\d ms \(application\/json; charset=utf-8, \d+ bytes; request id \S+\)\n$/,
    );
  });

  test('an error answer: its JSON on stdout, exit status 1', async () => {
    const result = await score(['--url', server.at('/nope')]);
    assert.equal(result.code, 1);
    assert.match(result.stderr, /^HTTP 404 /);
    assert.equal((JSON.parse(result.stdout) as { code: string }).code, 'HX_ERR_HTTP_NOT_FOUND');
  });

  test('no server there: exit status 2 and the reason, no stack', async () => {
    const closed = await startTestServer({ workers: 1 });
    const url = closed.at('/score');
    await closed.close();
    const result = await score(['--url', url]);
    assert.equal(result.code, 2);
    assert.equal(result.stdout, '');
    assert.match(
      result.stderr,
      /^httpextension: Error: no answer from http:\/\/127\.0\.0\.1:\d+\/score: ECONNREFUSED\n$/,
    );
  });

  test('an image answer is written with -o FILE, byte for byte, and stdout stays empty', async () => {
    const out = join(mkdtempSync(join(tmpdir(), 'hx-cli-')), 'annotated.jpg');
    const result = await score(['--url', server.at('/annotate'), '-o', out]);
    assert.equal(result.code, 0, result.stderr);
    assert.equal(result.stdout, '');
    assert.match(result.stderr, /^HTTP 200 .*\(image\/jpeg, (\d+) bytes/);
    const bytes = readFileSync(out);
    assert.equal(bytes.byteLength, Number(/image\/jpeg, (\d+) bytes/.exec(result.stderr)![1]));
    assert.deepEqual([...bytes.subarray(0, 3)], [0xff, 0xd8, 0xff]);
    assert.deepEqual([...bytes.subarray(-2)], [0xff, 0xd9]);
  });

  test('an image answer on a pipe is the raw JPEG', async () => {
    const result = await new Promise<Buffer>((resolve, reject) => {
      const child = spawn(process.execPath, [CLI, 'score', image, '--url', server.at('/annotate')]);
      const chunks: Buffer[] = [];
      child.stdout.on('data', (c: Buffer) => chunks.push(c));
      child.on('error', reject);
      child.on('close', () => resolve(Buffer.concat(chunks)));
    });
    assert.deepEqual([...result.subarray(0, 3)], [0xff, 0xd8, 0xff]);
  });

  test('a reader that closes the pipe early (| head): exit 0, nothing on stderr but the status', async () => {
    const child = spawn(process.execPath, [CLI, 'score', image, '--url', server.at('/annotate')]);
    child.stdout.destroy();
    let stderr = '';
    child.stderr.on('data', (d) => {
      stderr += d;
    });
    const [code] = (await once(child, 'close')) as [number | null];
    assert.equal(code, 0, stderr);
    assert.match(stderr, /^HTTP 200 [^\n]*\n$/);
  });

  for (const scheme of ['basic', 'digest']) {
    test(`--user answers a ${scheme} challenge with the password from HX_AUTH_PASSWORD`, async () => {
      const ok = await score(['--url', server.at(`/${scheme}`), '--user', 'pipeline'], { HX_AUTH_PASSWORD: PASSWORD });
      assert.equal(ok.code, 0, ok.stderr);
      assert.match(ok.stdout, /"value":"light"/);
      const wrong = await score(['--url', server.at(`/${scheme}`), '--user', 'pipeline'], { HX_AUTH_PASSWORD: 'nope' });
      assert.equal(wrong.code, 1);
      assert.equal((JSON.parse(wrong.stdout) as { code: string }).code, 'HX_ERR_AUTH_INVALID');
      const none = await score(['--url', server.at(`/${scheme}`)]);
      assert.equal(none.code, 1);
      assert.equal((JSON.parse(none.stdout) as { code: string }).code, 'HX_ERR_AUTH_REQUIRED');
    });
  }

  test('--user without HX_AUTH_PASSWORD and no terminal: exit 2, asks for the variable', async () => {
    const result = await score(['--url', server.at('/basic'), '--user', 'pipeline']);
    assert.equal(result.code, 2);
    assert.match(result.stderr, /--user pipeline: set HX_AUTH_PASSWORD/);
  });

  test('the URL defaults to the default route of a server started with no options', async () => {
    const result = await run(process.execPath, [CLI, 'score', '--help']);
    assert.match(result.stdout, /--url <url>\s+extension URL \(default:\s+"http:\/\/127\.0\.0\.1:5001\/score"\)/);
  });

  test('raw frames: --content-type carries the geometry', async () => {
    const file = join(mkdtempSync(join(tmpdir(), 'hx-cli-')), 'frame.raw');
    writeFileSync(file, Buffer.alloc(8 * 4 * 3, 200));
    const result = await run(process.execPath, [
      CLI,
      'score',
      file,
      '--url',
      server.at('/score'),
      '--content-type',
      'image/x-raw; width=8; height=4; format=rgb24',
    ]);
    assert.equal(result.code, 0, result.stdout + result.stderr);
    assert.match(result.stdout, /"value":"light"/);
    assert.match(result.stdout, /"value":"200.000"/);
  });
});

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { CLI, run } from './helpers/cli.js';
import { startTestServer, type TestServer } from './helpers/server.js';

const image = fileURLToPath(new URL('../../test/fixtures/frames/baboon_416.jpg', import.meta.url));

describe('httpextension score', () => {
  let server: TestServer;
  before(async () => {
    server = await startTestServer({ workers: 1 });
  });
  after(() => server.close());

  test('posts one image and prints the status and the answer', async () => {
    const result = await run(process.execPath, [CLI, 'score', image, '--url', server.at('/score?camera=1')]);
    assert.equal(result.code, 0, result.stderr);
    const [statusLine, ...json] = result.stdout.split('\n');
    assert.equal(statusLine, 'HTTP 200');
    const body = JSON.parse(json.join('\n')) as { inferences: Array<{ classification: { tag: { value: string } } }> };
    assert.equal(body.inferences[0]!.classification.tag.value, 'light');
  });

  test('an error answer is printed and the exit code is 1', async () => {
    const result = await run(process.execPath, [CLI, 'score', image, '--url', server.at('/nope')]);
    assert.equal(result.code, 1);
    assert.match(result.stdout, /^HTTP 404\n/);
    assert.match(result.stdout, /"code": "HX_ERR_HTTP_NOT_FOUND"/);
  });

  test('raw frames: --content-type carries the geometry', async () => {
    const { writeFileSync, mkdtempSync } = await import('node:fs');
    const { join } = await import('node:path');
    const { tmpdir } = await import('node:os');
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
    assert.match(result.stdout, /"value": "light"/);
    assert.match(result.stdout, /"value": "200.000"/);
  });
});

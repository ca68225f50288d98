import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { assertError, fixture, post, rawExchange } from './helpers/http.js';
import { startTestServer, type TestServer } from './helpers/server.js';

const jpeg = fixture('frames/messi_416.jpg');

/** What hostile clients found the server too lenient about: each is refused with its code now. */
describe('request strictness', () => {
  let server: TestServer;
  before(async () => {
    server = await startTestServer({ workers: 1, maxPixels: 640 * 480 });
  });
  after(() => server.close());

  test('a stream id over 128 characters is refused, not merged into the shared stream', async () => {
    const long = 'c'.repeat(129);
    assertError(await post(server.at(`/motion?stream=${long}`), jpeg), 400, 'HX_ERR_HTTP_BAD_STREAM');
    assertError(await post(server.at('/motion'), jpeg, { 'x-stream-id': long }), 400, 'HX_ERR_HTTP_BAD_STREAM');
    assert.equal((await post(server.at(`/motion?stream=${'c'.repeat(128)}`), jpeg)).status, 204);
  });

  test('an image/x-raw body whose declared geometry is over maxPixels is refused 413 before its body is sent', async () => {
    // Only the head is sent: the answer can only come from the declared geometry.
    const answer = await rawExchange(server.port, [
      'POST /score HTTP/1.1\r\nHost: x\r\nContent-Type: image/x-raw; width=4096; height=2160; format=bgra\r\n' +
        `Content-Length: ${4096 * 2160 * 4}\r\n\r\n`,
    ]);
    assert.match(answer, /^HTTP\/1\.1 413 /);
    assert.match(answer, /"code":"HX_ERR_LIMIT_TOO_MANY_PIXELS"/);
    assert.match(answer, /connection: close/i);
    const byQuery = await rawExchange(server.port, [
      'POST /score?width=1000&height=1000&format=rgb24 HTTP/1.1\r\nHost: x\r\nContent-Type: image/x-raw\r\n' +
        'Content-Length: 3000000\r\n\r\n',
    ]);
    assert.match(byQuery, /^HTTP\/1\.1 413 /);
  });

  test('TRACE and PROPFIND at an inference route are 405 with Allow: POST; elsewhere 404', async () => {
    for (const method of ['TRACE', 'PROPFIND']) {
      const answer = await rawExchange(server.port, [
        `${method} /score HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`,
      ]);
      assert.match(answer, /^HTTP\/1\.1 405 /, method);
      assert.match(answer, /"code":"HX_ERR_HTTP_METHOD_NOT_ALLOWED"/, method);
      assert.match(answer, /allow: POST/i, method);
    }
    const elsewhere = await rawExchange(server.port, [
      'TRACE /nowhere HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n',
    ]);
    assert.match(elsewhere, /^HTTP\/1\.1 404 /);
  });

  test('confidence must be a plain decimal, given once, under its own name', async () => {
    for (const query of ['confidence=0x1', 'confidence=1e-1', 'confidence[]=0.5', 'confidence=0.5&confidence=0.6']) {
      assertError(await post(server.at(`/score?${query}`), jpeg), 400, 'HX_ERR_HTTP_BAD_QUERY');
    }
    assert.equal((await post(server.at('/score?confidence=0.5'), jpeg)).status, 200);
    assert.equal((await post(server.at('/score?confidence=.5'), jpeg)).status, 200);
  });
});

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { assertError, fixture, post, rawExchange } from './helpers/http.js';
import { startTestServer, type TestServer } from './helpers/server.js';

describe('body limit', () => {
  let server: TestServer;
  before(async () => {
    server = await startTestServer({ maxBodyBytes: 100_000 });
  });
  after(() => server.close());

  test('a declared Content-Length over maxBodyBytes is refused 413 before any body byte is sent', async () => {
    // 50 MB declared, nothing sent: the answer must come without the server waiting for (or buffering) the body.
    const answer = await rawExchange(server.port, [
      'POST /score HTTP/1.1\r\nHost: x\r\nContent-Type: image/jpeg\r\nContent-Length: 50000000\r\n\r\n',
    ]);
    assert.match(answer, /^HTTP\/1\.1 413 /);
    assert.match(answer, /"code":"HX_ERR_LIMIT_BODY_TOO_LARGE"/);
    assert.match(answer, /connection: close/i);
  });

  test('a chunked body is refused 413 as soon as it crosses the limit', async () => {
    const chunk = Buffer.alloc(64 * 1024, 1);
    const frame = (b: Buffer) => Buffer.concat([Buffer.from(`${b.length.toString(16)}\r\n`), b, Buffer.from('\r\n')]);
    const answer = await rawExchange(server.port, [
      'POST /score HTTP/1.1\r\nHost: x\r\nContent-Type: image/jpeg\r\nTransfer-Encoding: chunked\r\n\r\n',
      frame(chunk),
      frame(chunk),
      // never terminated: the server must answer without waiting for the end of the body
    ]);
    assert.match(answer, /^HTTP\/1\.1 413 /);
    assert.match(answer, /"code":"HX_ERR_LIMIT_BODY_TOO_LARGE"/);
  });

  test('a chunked body under the limit is read whole and decoded', async () => {
    const jpeg = fixture('frames/street100_416.jpg');
    const frame = (b: Buffer) => Buffer.concat([Buffer.from(`${b.length.toString(16)}\r\n`), b, Buffer.from('\r\n')]);
    const answer = await rawExchange(server.port, [
      'POST /score HTTP/1.1\r\nHost: x\r\nContent-Type: image/jpeg\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n',
      frame(jpeg.subarray(0, 1000)),
      frame(jpeg.subarray(1000, 30_000)),
      frame(jpeg.subarray(30_000)),
      '0\r\n\r\n',
    ]);
    assert.match(answer, /^HTTP\/1\.1 200 /);
    assert.match(answer, /"bytes"|"meanLuma"/);
  });

  test('a body at the limit is accepted, and the server keeps serving after refusals', async () => {
    const answer = await post(server.at('/score'), fixture('frames/street100_416.jpg'), {
      'content-type': 'image/jpeg',
    });
    assert.equal(answer.status, 200);
    const big = Buffer.alloc(100_001, 0xff);
    assertError(
      await post(server.at('/score'), big, { 'content-type': 'image/jpeg' }),
      413,
      'HX_ERR_LIMIT_BODY_TOO_LARGE',
    );
    assert.equal((await post(server.at('/score'), fixture('frames/messi_416.jpg'))).status, 200);
  });
});

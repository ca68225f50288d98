import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { DigestVerifier, parseDigest } from '../src/protocol/auth/digest.js';
import { type CliServer, run, SCORE_ONLY, startCli } from './helpers/cli.js';
import { assertError, fixture, get, post, rawExchange } from './helpers/http.js';
import { startTestServer, type TestServer } from './helpers/server.js';

const jpeg = fixture('frames/messi_416.jpg');
const jpegPath = fileURLToPath(new URL('../../test/fixtures/frames/messi_416.jpg', import.meta.url));
const PASSWORD = 'pa55-w0rd!secret';
const OLD_PASSWORD = 'previous-password';
const TOKEN = 'tok_3f9a0c1d2e';
const HEADER_VALUE = 'hdr-v4lue-77';

function env(schemes: string): NodeJS.ProcessEnv {
  return {
    HX_AUTH: schemes,
    HX_AUTH_USERNAME: 'pipeline',
    HX_AUTH_PASSWORD: PASSWORD,
    HX_AUTH_TOKEN: `${TOKEN},tok_next_rotation`,
    HX_AUTH_HEADER_NAME: 'X-Extension-Key',
    HX_AUTH_HEADER_VALUE: HEADER_VALUE,
  };
}

function curl(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return run('curl', ['-sS', '-o', '-', '-w', '\n%{http_code}', ...args]);
}

function status(result: { stdout: string }): number {
  return Number(result.stdout.trim().split('\n').pop());
}

describe('authentication with curl against the real CLI (HX_AUTH_* spellings)', () => {
  let server: CliServer;
  before(async () => {
    server = await startCli(
      ['--workers', '1', '--log-level', 'debug', ...SCORE_ONLY],
      env('basic,digest,bearer,header'),
    );
  });
  after(async () => {
    assert.equal(await server.stop(), 0);
    // Secrets never reach a log line, not even at debug level where the resolved config is logged.
    for (const secret of [PASSWORD, TOKEN, HEADER_VALUE]) assert.ok(!server.output().includes(secret), secret);
  });

  test('curl --basic with the right password is 200, with a wrong one 401', async () => {
    const ok = await curl([
      '--basic',
      '-u',
      `pipeline:${PASSWORD}`,
      '--data-binary',
      `@${jpegPath}`,
      `${server.url}/score`,
    ]);
    assert.equal(status(ok), 200, ok.stdout + ok.stderr);
    const bad = await curl(['--basic', '-u', 'pipeline:nope', '--data-binary', `@${jpegPath}`, `${server.url}/score`]);
    assert.equal(status(bad), 401);
    assert.match(bad.stdout, /"code":"HX_ERR_AUTH_INVALID"/);
  });

  test('curl --digest is 200 (challenge, then the signed request)', async () => {
    const ok = await curl([
      '--digest',
      '-u',
      `pipeline:${PASSWORD}`,
      '--data-binary',
      `@${jpegPath}`,
      `${server.url}/score?camera=1`,
    ]);
    assert.equal(status(ok), 200, ok.stdout + ok.stderr);
    const bad = await curl([
      '--digest',
      '-u',
      'pipeline:wrong',
      '--data-binary',
      `@${jpegPath}`,
      `${server.url}/score`,
    ]);
    assert.equal(status(bad), 401);
  });

  test("curl -H 'Authorization: Bearer ...' is 200 with either rotated token", async () => {
    for (const token of [TOKEN, 'tok_next_rotation']) {
      const ok = await curl([
        '-H',
        `Authorization: Bearer ${token}`,
        '--data-binary',
        `@${jpegPath}`,
        `${server.url}/score`,
      ]);
      assert.equal(status(ok), 200);
    }
    const bad = await curl([
      '-H',
      'Authorization: Bearer tok_revoked',
      '--data-binary',
      `@${jpegPath}`,
      `${server.url}/score`,
    ]);
    assert.equal(status(bad), 401);
  });

  test('the custom header (HttpHeaderCredentials) is 200', async () => {
    const ok = await curl([
      '-H',
      `X-Extension-Key: ${HEADER_VALUE}`,
      '--data-binary',
      `@${jpegPath}`,
      `${server.url}/score`,
    ]);
    assert.equal(status(ok), 200);
  });

  test('no credentials: 401 HX_ERR_AUTH_REQUIRED with a challenge per scheme', async () => {
    const answer = await post(`${server.url}/score`, jpeg);
    assertError(answer, 401, 'HX_ERR_AUTH_REQUIRED');
    const challenges = [answer.headers['www-authenticate']].flat().map(String);
    assert.ok(challenges.some((c) => c.startsWith('Basic realm="httpextension"')));
    assert.ok(challenges.some((c) => /^Digest realm="httpextension", qop="auth", algorithm=SHA-256, nonce="/.test(c)));
    assert.ok(challenges.some((c) => /^Digest .*algorithm=MD5/.test(c)));
    assert.ok(challenges.some((c) => c.startsWith('Bearer realm="httpextension"')));
    assert.ok(challenges.some((c) => c.includes('header="X-Extension-Key"')));
  });

  test('health is never behind auth', async () => {
    assert.equal((await get(`${server.url}/health/live`)).status, 200);
    assert.equal((await get(`${server.url}/health/ready`)).status, 200);
  });
});

describe('auth details', () => {
  let server: TestServer;
  let dir: string;
  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'hx-auth-'));
    writeFileSync(join(dir, 'password'), `${PASSWORD}\n${OLD_PASSWORD}\n`);
    server = await startTestServer(
      {
        workers: 1,
        routes: [
          { path: '/score', processor: 'colorIntensity', options: {} },
          { path: '/open', processor: 'colorIntensity', options: {}, auth: [] },
          { path: '/token-only', processor: 'colorIntensity', options: {}, auth: ['bearer'] },
        ],
      },
      {
        env: {
          HX_AUTH: 'basic,digest',
          HX_AUTH_USERNAME: 'pipeline',
          HX_AUTH_PASSWORD_FILE: join(dir, 'password'),
          HX_AUTH_TOKEN: TOKEN,
        },
      },
    );
  });
  after(() => server.close());

  const basic = (user: string, password: string) => `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;

  test('passwords from a file, several valid at once (rotation)', async () => {
    for (const password of [PASSWORD, OLD_PASSWORD]) {
      const answer = await post(server.at('/score'), jpeg, { authorization: basic('pipeline', password) });
      assert.equal(answer.status, 200);
    }
    assertError(
      await post(server.at('/score'), jpeg, { authorization: basic('other', PASSWORD) }),
      401,
      'HX_ERR_AUTH_INVALID',
    );
  });

  test('auth per route: an open route and a bearer-only route', async () => {
    assert.equal((await post(server.at('/open'), jpeg)).status, 200);
    assert.equal((await post(server.at('/token-only'), jpeg, { authorization: `Bearer ${TOKEN}` })).status, 200);
    const basicOnTokenRoute = await post(server.at('/token-only'), jpeg, {
      authorization: basic('pipeline', PASSWORD),
    });
    assertError(basicOnTokenRoute, 401, 'HX_ERR_AUTH_INVALID');
    assert.deepEqual(basicOnTokenRoute.headers['www-authenticate'], 'Bearer realm="httpextension"');
  });

  test('401 comes before the body is read: a huge declared body is refused at once', async () => {
    const answer = await rawExchange(server.port, [
      'POST /score HTTP/1.1\r\nHost: x\r\nContent-Type: image/jpeg\r\nContent-Length: 30000000\r\n\r\n',
    ]);
    assert.match(answer, /^HTTP\/1\.1 401 /);
    assert.match(answer, /www-authenticate: Basic/i);
  });

  test('digest by hand: a replayed nonce count is refused; a fresh count passes', async () => {
    const challenge = await post(server.at('/score'), jpeg);
    const digest = [challenge.headers['www-authenticate']]
      .flat()
      .map(String)
      .find((c) => c.includes('SHA-256'))!;
    const { nonce, realm, opaque } = parseDigest(digest)!;
    const sign = (nc: string) => {
      const h = (s: string) => createHash('sha256').update(s).digest('hex');
      const ha1 = h(`pipeline:${realm}:${PASSWORD}`);
      const ha2 = h('POST:/score');
      const response = h(`${ha1}:${nonce}:${nc}:abc123:auth:${ha2}`);
      return `Digest username="pipeline", realm="${realm}", nonce="${nonce}", uri="/score", algorithm=SHA-256, qop=auth, nc=${nc}, cnonce="abc123", response="${response}", opaque="${opaque}"`;
    };
    assert.equal((await post(server.at('/score'), jpeg, { authorization: sign('00000001') })).status, 200);
    assertError(await post(server.at('/score'), jpeg, { authorization: sign('00000001') }), 401, 'HX_ERR_AUTH_INVALID');
    assert.equal((await post(server.at('/score'), jpeg, { authorization: sign('00000002') })).status, 200);
    // The opaque value must come back unchanged (RFC 7616 section 3.3).
    const forged = sign('00000003').replace(`opaque="${opaque}"`, 'opaque="forged"');
    assertError(await post(server.at('/score'), jpeg, { authorization: forged }), 401, 'HX_ERR_AUTH_INVALID');
    const missing = sign('00000004').replace(`, opaque="${opaque}"`, '');
    assertError(await post(server.at('/score'), jpeg, { authorization: missing }), 401, 'HX_ERR_AUTH_INVALID');
    assert.equal((await post(server.at('/score'), jpeg, { authorization: sign('00000005') })).status, 200);
  });

  test('one Authorization header holds one credential: "Basic <valid>, Digest ..." is refused', async () => {
    const both = `${basic('pipeline', PASSWORD)}, Digest username="pipeline"`;
    assertError(await post(server.at('/score'), jpeg, { authorization: both }), 401, 'HX_ERR_AUTH_INVALID');
    const bearerPlus = `Bearer ${TOKEN}, Basic x`;
    assertError(await post(server.at('/token-only'), jpeg, { authorization: bearerPlus }), 401, 'HX_ERR_AUTH_INVALID');
  });
});

describe('digest nonces', () => {
  test('an expired nonce answers stale (the client re-signs without asking for the password)', () => {
    let now = 1_000_000;
    const verifier = new DigestVerifier({
      realm: 'r',
      users: [{ username: 'u', passwords: ['p'] }],
      algorithms: ['MD5'],
      nonceTtlMs: 1000,
      secret: Buffer.alloc(32, 7),
      now: () => now,
    });
    const { nonce, opaque } = parseDigest(verifier.challenges()[0])!;
    const h = (s: string) => createHash('md5').update(s).digest('hex');
    const header = `Digest username="u", realm="r", nonce="${nonce}", uri="/x", qop=auth, nc=00000001, cnonce="c", response="${h(`${h('u:r:p')}:${nonce}:00000001:c:auth:${h('POST:/x')}`)}", opaque="${opaque}"`;
    assert.equal(verifier.verify(header, 'POST', '/x'), 'ok');
    now += 5000;
    assert.equal(verifier.verify(header.replace('nc=00000001', 'nc=00000002'), 'POST', '/x'), 'invalid');
    // A genuine signature over an expired nonce is "stale", and the new challenge says so.
    const stale = header.replace(
      /response="[0-9a-f]+"/,
      `response="${h(`${h('u:r:p')}:${nonce}:00000001:c:auth:${h('POST:/x')}`)}"`,
    );
    assert.equal(verifier.verify(stale, 'POST', '/x'), 'stale');
    assert.match(verifier.challenges(true)[0]!, /stale=true/);
    // A forged nonce, a wrong URI and a wrong realm are invalid.
    assert.equal(verifier.verify(header.replace(nonce!, 'A'.repeat(43)), 'POST', '/x'), 'invalid');
    assert.equal(verifier.verify(header, 'POST', '/y'), 'invalid');
  });
});

describe('auth config', () => {
  test('secrets cannot be given as flags, and a scheme without its secret fails the boot with every problem', async () => {
    const result = await run(
      process.execPath,
      [fileURLToPath(new URL('../src/cli/main.js', import.meta.url)), 'config', ...SCORE_ONLY],
      {
        env: { PATH: process.env.PATH, HX_AUTH: 'basic,bearer,header' },
      },
    );
    assert.equal(result.code, 2);
    assert.match(result.stderr, /HX_ERR_CONFIG_INVALID/);
    assert.match(result.stderr, /basic\/digest need a user/);
    assert.match(result.stderr, /bearer needs a token/);
    assert.match(result.stderr, /header needs HX_AUTH_HEADER_NAME/);
  });

  test('`httpextension config` redacts every secret', async () => {
    const result = await run(
      process.execPath,
      [fileURLToPath(new URL('../src/cli/main.js', import.meta.url)), 'config', ...SCORE_ONLY],
      {
        env: { PATH: process.env.PATH, ...env('basic,bearer,header') },
      },
    );
    assert.equal(result.code, 0, result.stderr);
    for (const secret of [PASSWORD, TOKEN, HEADER_VALUE]) assert.ok(!result.stdout.includes(secret));
    const printed = JSON.parse(result.stdout) as { auth: { users: Array<{ passwords: string[] }>; tokens: string[] } };
    assert.deepEqual(printed.auth.users[0]!.passwords, ['[redacted]']);
    assert.deepEqual(printed.auth.tokens, ['[redacted]', '[redacted]']);
  });
});

// biome-ignore-all lint/suspicious/noTemplateCurlyInString: topologies write their parameters as ${name} in plain strings
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { ServerResponse } from 'node:http';
import { after, before, describe, test } from 'node:test';
import { PipelineRunner } from '../src/pipeline/pipeline-runner.js';
import { parseTopology } from '../src/pipeline/topology.js';
import {
  avaTopology,
  CollectingSink,
  fixturePath,
  json,
  type ReceivedRequest,
  runInProcess,
  startDouble,
  streetClip,
  type TempDir,
  tempDir,
} from './helpers/pipeline.js';

const RESULT = { inferences: [{ type: 'classification', classification: { tag: { value: 'dark', confidence: 1 } } }] };

function usernamePassword(username: string, password: string): Record<string, unknown> {
  return { '@type': '#Microsoft.VideoAnalyzer.UsernamePasswordCredentials', username, password };
}

function endpoint(url: string, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return { endpoint: { '@type': '#Microsoft.VideoAnalyzer.UnsecuredEndpoint', url, ...extra } };
}

/** `key=value, key="quoted"` pairs of an Authorization header (the double's own parser). */
function authParams(header: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const m of header.matchAll(/([a-z]+)=(?:"([^"]*)"|([^\s,]+))/gi)) out[m[1]!.toLowerCase()] = m[2] ?? m[3]!;
  return out;
}

/**
 * An RFC 7616 Digest server (qop=auth): challenges what it cannot verify, checks the response hash and that `nc`
 * counts up for a nonce.
 */
function digestDouble(algorithm: 'MD5' | 'SHA-256', username: string, password: string) {
  const hash = (s: string) =>
    createHash(algorithm === 'MD5' ? 'md5' : 'sha256')
      .update(s)
      .digest('hex');
  const realm = 'extension@test';
  const nonce = randomBytes(16).toString('hex');
  const opaque = 'op4que';
  const seen: { scheme: string; nc?: string; ok: boolean }[] = [];
  const handler = (r: ReceivedRequest, _i: number, res: ServerResponse) => {
    const header = String(r.headers.authorization ?? '');
    const scheme = header.split(' ')[0] ?? '';
    if (scheme === 'Digest') {
      const p = authParams(header);
      const ha1 = hash(`${username}:${realm}:${password}`);
      const ha2 = hash(`POST:${p.uri}`);
      const expected = hash(`${ha1}:${nonce}:${p.nc}:${p.cnonce}:auth:${ha2}`);
      const ok =
        p.username === username &&
        p.realm === realm &&
        p.nonce === nonce &&
        p.uri === r.url &&
        p.qop === 'auth' &&
        p.algorithm === algorithm &&
        p.opaque === opaque &&
        p.response === expected;
      seen.push({ scheme, nc: p.nc!, ok });
      if (ok) return json(res, 200, RESULT);
    } else {
      seen.push({ scheme, ok: false });
    }
    res.writeHead(401, {
      'content-type': 'application/json',
      'www-authenticate': `Digest realm="${realm}", qop="auth", algorithm=${algorithm}, nonce="${nonce}", opaque="${opaque}"`,
    });
    res.end('{"code":"HX_ERR_AUTH_REQUIRED"}');
  };
  return { handler, seen };
}

describe('extension credentials and TLS', () => {
  let dir: TempDir;
  let clip: string;
  before(async () => {
    dir = tempDir();
    clip = await streetClip(dir, 3);
  });
  after(() => dir.remove());

  test('UsernamePasswordCredentials: Basic, sent with the first request', async () => {
    const double = await startDouble((r, _i, res) =>
      r.headers.authorization === `Basic ${Buffer.from('camera:s3cr:t').toString('base64')}`
        ? json(res, 200, RESULT)
        : json(res, 401, {}),
    );
    try {
      const { counters } = await runInProcess(
        avaTopology(endpoint('${inferencingUrl}', { credentials: usernamePassword('camera', 's3cr:t') })),
        { rtspUrl: clip, inferencingUrl: double.url },
      );
      assert.deepEqual([counters.sent, counters.answered, counters.errors], [3, 3, 0]);
      assert.equal(double.requests.length, 3);
    } finally {
      await double.close();
    }
  });

  for (const algorithm of ['MD5', 'SHA-256'] as const) {
    test(`UsernamePasswordCredentials: Digest ${algorithm} when challenged, nonce reused with nc counting up`, async () => {
      const digest = digestDouble(algorithm, 'camera', 'pa"ss');
      const double = await startDouble(digest.handler);
      try {
        const { counters, messages } = await runInProcess(
          avaTopology(endpoint('${inferencingUrl}', { credentials: usernamePassword('camera', 'pa"ss') })),
          { rtspUrl: clip, inferencingUrl: `${double.url}?model=a` },
        );
        assert.deepEqual([counters.sent, counters.answered, counters.errors], [3, 3, 0]);
        assert.equal(messages.length, 3);
        assert.deepEqual(digest.seen, [
          { scheme: 'Basic', ok: false },
          { scheme: 'Digest', nc: '00000001', ok: true },
          { scheme: 'Digest', nc: '00000002', ok: true },
          { scheme: 'Digest', nc: '00000003', ok: true },
        ]);
      } finally {
        await double.close();
      }
    });
  }

  test('Digest with a wrong password: a ProtocolError with the answer body, then the pipeline ends (no retry for ever)', async () => {
    const digest = digestDouble('SHA-256', 'camera', 'right');
    const double = await startDouble(digest.handler);
    try {
      const sink = new CollectingSink();
      const runner = new PipelineRunner(
        parseTopology(
          avaTopology(endpoint('${inferencingUrl}', { credentials: usernamePassword('camera', 'wrong') })),
          {
            rtspUrl: clip,
            inferencingUrl: double.url,
          },
        ),
        'test',
        sink,
        { realtime: false, retryAfterDefaultSecs: 1, requestTimeoutMs: 10_000 },
      );
      await assert.rejects(runner.run(), (error: Error) => {
        assert.equal((error as { code?: string }).code, 'HX_ERR_PIPELINE_EXTENSION');
        assert.match(error.message, /answered 401 \(credentials refused\): stopping this pipeline$/);
        return true;
      });
      const counters = runner.counters();
      assert.deepEqual([counters.sent, counters.answered, counters.errors], [1, 0, 1]);
      assert.deepEqual(
        sink.messages.map((m) => m.body),
        [{ protocol: 'http', errorCode: '401', errorMessage: '{"code":"HX_ERR_AUTH_REQUIRED"}' }],
      );
      assert.equal(digest.seen.filter((s) => s.ok).length, 0);
    } finally {
      await double.close();
    }
  });

  test('HttpHeaderCredentials: the header as given', async () => {
    const double = await startDouble((r, _i, res) =>
      r.headers['x-api-key'] === 'k-123' && r.headers.authorization === undefined
        ? json(res, 200, RESULT)
        : json(res, 401, {}),
    );
    try {
      const { counters } = await runInProcess(
        avaTopology(
          endpoint('${inferencingUrl}', {
            credentials: {
              '@type': '#Microsoft.VideoAnalyzer.HttpHeaderCredentials',
              headerName: 'X-Api-Key',
              headerValue: 'k-123',
            },
          }),
        ),
        { rtspUrl: clip, inferencingUrl: double.url },
      );
      assert.deepEqual([counters.answered, counters.errors], [3, 0]);
    } finally {
      await double.close();
    }
  });

  describe('TlsEndpoint', () => {
    const ca = readFileSync(fixturePath('tls/ca.pem'), 'utf8');
    const tls = (name: string) => ({
      key: readFileSync(fixturePath(`tls/${name}-key.pem`), 'utf8'),
      cert: readFileSync(fixturePath(`tls/${name}.pem`), 'utf8'),
    });
    function tlsEndpoint(validation: Record<string, string>, certificates: string[] = [ca]): Record<string, unknown> {
      return {
        endpoint: {
          '@type': '#Microsoft.VideoAnalyzer.TlsEndpoint',
          url: '${inferencingUrl}',
          trustedCertificates: { '@type': '#Microsoft.VideoAnalyzer.PemCertificateList', certificates },
          validationOptions: validation,
        },
      };
    }

    const cases: [string, string, Record<string, string>, string[] | undefined, string | undefined][] = [
      ['trusted CA, matching IP', 'ip', {}, undefined, undefined],
      ['trusted CA, wrong host name', 'extension-test', {}, undefined, 'ERR_TLS_CERT_ALTNAME_INVALID'],
      [
        'trusted CA, wrong host name, ignoreHostname',
        'extension-test',
        { ignoreHostname: 'true' },
        undefined,
        undefined,
      ],
      ['CA not trusted', 'ip', {}, [], 'UNABLE_TO_VERIFY_LEAF_SIGNATURE'],
      ['CA not trusted, ignoreSignature', 'ip', { ignoreSignature: 'true' }, [], undefined],
      // ignoreSignature skips the chain check only: the host name is still checked.
      [
        'CA not trusted, ignoreSignature, wrong host name',
        'extension-test',
        { ignoreSignature: 'true' },
        [],
        'ERR_TLS_CERT_ALTNAME_INVALID',
      ],
      [
        'CA not trusted, wrong host name, both ignored',
        'extension-test',
        { ignoreSignature: 'true', ignoreHostname: 'true' },
        [],
        undefined,
      ],
    ];
    for (const [name, cert, validation, certificates, errorCode] of cases) {
      test(name, async () => {
        const double = await startDouble((_r, _i, res) => json(res, 200, RESULT), tls(cert));
        try {
          const { counters, messages } = await runInProcess(avaTopology(tlsEndpoint(validation, certificates)), {
            rtspUrl: clip,
            inferencingUrl: double.url,
          });
          if (errorCode === undefined) {
            assert.deepEqual([counters.answered, counters.errors], [3, 0]);
          } else {
            assert.deepEqual([counters.answered, counters.errors], [0, 3]);
            assert.equal((messages[0]!.body as { errorCode: string }).errorCode, errorCode);
          }
        } finally {
          await double.close();
        }
      });
    }
  });
});

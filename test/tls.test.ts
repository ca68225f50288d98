import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { copyFileSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { before, describe, test } from 'node:test';
import tls from 'node:tls';
import { Agent, request } from 'undici';
import { makePki, type TestPki } from './helpers/certs.js';
import { SCORE_ONLY, startCli } from './helpers/cli.js';
import { checkWellFormed, fixture, until } from './helpers/http.js';

const jpeg = fixture('frames/messi_416.jpg');

async function postTls(url: string, agent: Agent): Promise<number> {
  const response = await request(`${url}/score`, { method: 'POST', body: jpeg, dispatcher: agent });
  const text = await response.body.text();
  checkWellFormed({ status: response.statusCode, headers: response.headers, text, json: undefined });
  return response.statusCode;
}

function peerFingerprint(port: number, options: tls.ConnectionOptions): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = tls.connect({ port, host: '127.0.0.1', ...options }, () => {
      resolve(socket.getPeerCertificate().fingerprint256);
      socket.end();
    });
    socket.on('error', reject);
  });
}

/** One handshake by the real openssl client; true when it negotiated a session. */
function opensslHandshake(port: number, args: readonly string[]): boolean {
  const run = spawnSync('openssl', ['s_client', '-connect', `127.0.0.1:${port}`, ...args], {
    input: '',
    encoding: 'utf8',
    timeout: 20_000,
  });
  return run.status === 0 && /Cipher is (?!\(NONE\))/.test(run.stdout);
}

describe('TLS', () => {
  let pki: TestPki;
  before(() => {
    pki = makePki();
  });

  test('TLS 1.2 offers only ECDHE with AEAD suites (intermediate profile); TLS 1.3 is unchanged', async () => {
    const server = await startCli([
      '--workers',
      '1',
      ...SCORE_ONLY,
      '--tls-cert',
      pki.serverCert,
      '--tls-key',
      pki.serverKey,
    ]);
    try {
      for (const suite of [
        'ECDHE-RSA-AES128-GCM-SHA256',
        'ECDHE-RSA-AES256-GCM-SHA384',
        'ECDHE-RSA-CHACHA20-POLY1305',
      ]) {
        assert.equal(opensslHandshake(server.port, ['-tls1_2', '-cipher', suite]), true, suite);
      }
      // Static RSA key exchange (no forward secrecy), CBC with SHA-1 and CBC with SHA-2 are all refused.
      for (const suite of [
        'AES128-SHA',
        'AES256-GCM-SHA384',
        'AES128-GCM-SHA256',
        'ECDHE-RSA-AES128-SHA',
        'ECDHE-RSA-AES256-SHA384',
      ]) {
        assert.equal(opensslHandshake(server.port, ['-tls1_2', '-cipher', suite]), false, suite);
      }
      assert.equal(opensslHandshake(server.port, ['-tls1_3']), true, 'TLS 1.3');
    } finally {
      await server.stop();
    }
  });

  test('serves HTTPS with a PEM certificate; TLS below 1.2 is refused; SIGHUP reloads without dropping connections', async () => {
    const cert = join(pki.dir, 'live.pem');
    const key = join(pki.dir, 'live.key');
    copyFileSync(pki.serverCert, cert);
    copyFileSync(pki.serverKey, key);
    const server = await startCli(['--workers', '1', ...SCORE_ONLY, '--tls-cert', cert, '--tls-key', key]);
    const ca = readFileSync(pki.caCert);
    const agent = new Agent({ connect: { ca }, keepAliveTimeout: 30_000, connections: 1 });
    try {
      assert.equal(await postTls(server.url, agent), 200);
      await assert.rejects(
        peerFingerprint(server.port, { ca, maxVersion: 'TLSv1.1', minVersion: 'TLSv1' }),
        /protocol|version|alert/i,
      );
      const before = await peerFingerprint(server.port, { ca });
      copyFileSync(pki.serverCert2, cert);
      copyFileSync(pki.serverKey2, key);
      server.child.kill('SIGHUP');
      await until('the certificate reloaded', () => server.output().includes('TLS certificate reloaded'));
      // The kept-alive connection from before the reload still serves...
      assert.equal(await postTls(server.url, agent), 200);
      // ...and new connections get the new certificate.
      const after = await peerFingerprint(server.port, { ca });
      assert.notEqual(after, before);
      assert.equal(
        after,
        new (await import('node:crypto')).X509Certificate(readFileSync(pki.serverCert2)).fingerprint256,
      );
    } finally {
      await agent.close();
      assert.equal(await server.stop(), 0);
    }
  });

  test('--tls-ca requires a client certificate signed by that CA', async () => {
    const server = await startCli(
      [
        ...SCORE_ONLY,
        '--workers',
        '1',
        '--tls-cert',
        pki.serverCert,
        '--tls-key',
        pki.serverKey,
        '--tls-ca',
        pki.caCert,
      ],
      {},
      { clientCert: { cert: readFileSync(pki.clientCert), key: readFileSync(pki.clientKey) } },
    );
    const ca = readFileSync(pki.caCert);
    const anonymous = new Agent({ connect: { ca } });
    const withCert = new Agent({
      connect: { ca, cert: readFileSync(pki.clientCert), key: readFileSync(pki.clientKey) },
    });
    try {
      await assert.rejects(postTls(server.url, anonymous));
      assert.equal(await postTls(server.url, withCert), 200);
    } finally {
      await anonymous.close();
      await withCert.close();
      assert.equal(await server.stop(), 0);
    }
  });
});

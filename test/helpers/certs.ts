import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { cpSync, existsSync, mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface TestPki {
  dir: string;
  caCert: string;
  /** Server certificate for 127.0.0.1 / localhost and its key. */
  serverCert: string;
  serverKey: string;
  /** A second server certificate (another serial), to test reloading. */
  serverCert2: string;
  serverKey2: string;
  clientCert: string;
  clientKey: string;
}

/**
 * A throw-away CA, two server certificates and a client certificate, made with openssl at test time. Four RSA keys
 * cost a second or more of CPU, so one set is made per day and per recipe (the certificates last two days) and shared
 * by every test process through a cache directory; each caller gets its own copy, which it may write to or remove.
 */
export function makePki(): TestPki {
  const recipe = createHash('sha256')
    .update(readFileSync(new URL(import.meta.url)))
    .digest('hex')
    .slice(0, 16);
  const day = new Date().toISOString().slice(0, 10);
  const cache = join(tmpdir(), `hx-pki-cache-${recipe}-${day}`);
  if (!existsSync(join(cache, 'client.pem'))) {
    const fresh = mkdtempSync(join(tmpdir(), 'hx-pki-make-'));
    generate(fresh);
    try {
      // Atomic: a concurrent test process either finds the whole set or none of it.
      renameSync(fresh, cache);
    } catch {
      rmSync(fresh, { recursive: true, force: true }); // another process won the race: its set is as good
    }
  }
  const dir = mkdtempSync(join(tmpdir(), 'hx-pki-'));
  cpSync(cache, dir, { recursive: true });
  const p = (name: string) => join(dir, name);
  return {
    dir,
    caCert: p('ca.pem'),
    serverCert: p('server.pem'),
    serverKey: p('server.key'),
    serverCert2: p('server2.pem'),
    serverKey2: p('server2.key'),
    clientCert: p('client.pem'),
    clientKey: p('client.key'),
  };
}

function generate(dir: string): void {
  const p = (name: string) => join(dir, name);
  const openssl = (...args: string[]) => execFileSync('openssl', args, { stdio: 'pipe' });
  openssl(
    'req',
    '-x509',
    '-newkey',
    'rsa:2048',
    '-nodes',
    '-keyout',
    p('ca.key'),
    '-out',
    p('ca.pem'),
    '-days',
    '2',
    '-subj',
    '/CN=hx test CA',
  );
  writeFileSync(p('san.ext'), 'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n');
  writeFileSync(p('client.ext'), 'extendedKeyUsage=clientAuth\n');
  const issue = (name: string, subject: string, ext: string) => {
    openssl(
      'req',
      '-newkey',
      'rsa:2048',
      '-nodes',
      '-keyout',
      p(`${name}.key`),
      '-out',
      p(`${name}.csr`),
      '-subj',
      subject,
    );
    openssl(
      'x509',
      '-req',
      '-in',
      p(`${name}.csr`),
      '-CA',
      p('ca.pem'),
      '-CAkey',
      p('ca.key'),
      '-CAcreateserial',
      '-out',
      p(`${name}.pem`),
      '-days',
      '2',
      '-extfile',
      p(ext),
    );
  };
  issue('server', '/CN=127.0.0.1', 'san.ext');
  issue('server2', '/CN=127.0.0.1', 'san.ext');
  issue('client', '/CN=pipeline', 'client.ext');
}

import { execFileSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
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

/** Makes a throw-away CA, two server certificates and a client certificate with openssl, at test time. */
export function makePki(): TestPki {
  const dir = mkdtempSync(join(tmpdir(), 'hx-pki-'));
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

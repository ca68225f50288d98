#!/usr/bin/env node
// Container HEALTHCHECK: exit 0 when GET /health/ready answers 200, else 1.
//
// Plain JavaScript with no dependencies so that it runs in the image as it is. It reads the port the server was
// started with from the server's own command line (PID 1 in a container) because `docker run IMAGE -p 6000` sets
// the port by flag, which the health check's environment cannot see; then HX_PORT, then the default 5001.
// It sets no HX_* variable of its own: the server rejects unknown ones, and the check shares its environment.
//
// Usage: node healthcheck.mjs [PID]     (PID defaults to 1)
import { readFileSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { pathToFileURL } from 'node:url';

const TIMEOUT_MS = 3000;

/** Value of a flag from an argv list: `-p 6000`, `-p6000`, `--port 6000`, `--port=6000`. Last one wins. */
export function flagValue(argv, long, short) {
  let value;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (arg === long || (short !== undefined && arg === short)) value = argv[i + 1];
    else if (arg.startsWith(`${long}=`)) value = arg.slice(long.length + 1);
    else if (short !== undefined && arg.startsWith(short) && arg.length > short.length && !arg.startsWith('--')) {
      value = arg.slice(short.length);
    }
  }
  return value;
}

/** Where to probe: port, host and scheme from the server's flags, else its environment, else the defaults. */
export function probeTarget(argv, env) {
  const port = Number(flagValue(argv, '--port', '-p') ?? env.HX_PORT ?? 5001);
  const host = flagValue(argv, '--host') ?? env.HX_HOST ?? '0.0.0.0';
  const tls = flagValue(argv, '--tls-cert') !== undefined || (env.HX_TLS_CERT ?? '') !== '';
  // A wildcard listener is reachable on loopback; a specific address must be asked for by name.
  const wildcard = host === '0.0.0.0' || host === '::' || host === '';
  return { port, host: wildcard ? '127.0.0.1' : host, tls };
}

function serverArgv(pid) {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8')
      .split('\0')
      .filter((a) => a !== '');
  } catch {
    return [];
  }
}

function probe({ port, host, tls }) {
  return new Promise((resolve) => {
    const request = tls ? httpsRequest : httpRequest;
    // The server's certificate is not what this checks (it may be issued for a public name): liveness of the
    // process behind it is, hence rejectUnauthorized: false for the loopback probe only.
    const req = request(
      { host, port, path: '/health/ready', method: 'GET', timeout: TIMEOUT_MS, rejectUnauthorized: false },
      (res) => {
        res.resume();
        resolve(res.statusCode === 200);
      },
    );
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', () => resolve(false));
    req.end();
  });
}

const isMain = process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href;
if (isMain) {
  const pid = process.argv[2] ?? '1';
  const target = probeTarget(serverArgv(pid), process.env);
  const ok = Number.isInteger(target.port) && target.port > 0 && (await probe(target));
  process.stdout.write(
    `${ok ? 'ready' : 'not ready'}: ${target.tls ? 'https' : 'http'}://${target.host}:${target.port}/health/ready\n`,
  );
  process.exit(ok ? 0 : 1);
}

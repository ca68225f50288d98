import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { PROTO_DIR } from '../../src/schema/grpc-inference.js';

/** Debian's python3 has grpcio; the pyenv one on PATH may not. */
export const PYTHON = '/usr/bin/python3';

/** A Python peer script in test/python/. */
export function pythonPeer(name: string): string {
  return fileURLToPath(new URL(`../../../test/python/${name}`, import.meta.url));
}

/** Generates the contract's Python code from proto/ (grpc_tools.protoc) into a temporary folder. */
export function generatePythonContract(): { dir: string; remove(): void } {
  const dir = mkdtempSync(join(tmpdir(), 'hx-grpc-py-'));
  const protos = ['extension.proto', 'inferencing.proto', 'media.proto'];
  execFileSync(PYTHON, [
    '-m',
    'grpc_tools.protoc',
    `-I${PROTO_DIR}`,
    `--python_out=${dir}`,
    `--grpc_python_out=${dir}`,
    ...protos.map((p) => join(PROTO_DIR, p)),
  ]);
  return { dir, remove: () => rmSync(dir, { recursive: true, force: true }) };
}

/** Starts test/python/grpc_server.py; resolves once it printed the port it listens on. */
export function startPythonServer(
  gen: string,
  options: { holdFile?: string; tls?: { cert: string; key: string } } = {},
): Promise<{ port: number; output(): string; stop(): void }> {
  const args = [
    pythonPeer('grpc_server.py'),
    gen,
    ...(options.holdFile === undefined ? [] : ['--hold', options.holdFile]),
    ...(options.tls === undefined ? [] : ['--tls', options.tls.cert, options.tls.key]),
  ];
  const child = spawn(PYTHON, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  return new Promise((resolve, reject) => {
    child.stderr.on('data', (d) => (output += d));
    child.stdout.on('data', (d) => {
      output += d;
      const match = /PORT (\d+)/.exec(output);
      if (match) resolve({ port: Number(match[1]), output: () => output, stop: () => child.kill('SIGKILL') });
    });
    child.on('exit', (code) => reject(new Error(`grpc_server.py exited ${code}:\n${output}`)));
  });
}

import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { once } from 'node:events';
import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { fileURLToPath } from 'node:url';

export const CLI = fileURLToPath(new URL('../../src/cli/main.js', import.meta.url));

/** Serve /score alone: tests that do not call the AI routes do not pay for loading their models. */
export const SCORE_ONLY = ['--route', '/score=colorIntensity'];

export interface CliServer {
  child: ChildProcess;
  url: string;
  port: number;
  /** Everything the process wrote to stdout and stderr so far. */
  output(): string;
  stop(signal?: NodeJS.Signals): Promise<number | null>;
}

/** Generous: test files run concurrently on a 2-core machine, so a start can wait behind another file's work. */
const START_MS = 60_000;

/** Starts `httpextension` as a real process on a free port and waits until it is ready. */
export async function startCli(
  args: string[],
  env: NodeJS.ProcessEnv = {},
  options: {
    waitReady?: boolean;
    nodeArgs?: string[];
    /** The client certificate readiness polling presents to a server that requires one (--tls-ca). */
    clientCert?: { cert: Buffer; key: Buffer };
    /** Another copy of the CLI (an installed package's) and the folder it runs in. */
    cli?: string;
    cwd?: string;
    /**
     * `default`: the default group (a process per CPU). Otherwise one process, unless the args or env say: most
     * tests are about what one process does (its slots, its metrics, its drain) and observe that process alone.
     */
    processes?: 'default';
  } = {},
): Promise<CliServer> {
  const cli = options.cli ?? CLI;
  const said = args.includes('--processes') || env.HX_PROCESSES !== undefined || options.processes === 'default';
  const processes = said ? [] : ['--processes', '1'];
  const child = spawn(
    process.execPath,
    [...(options.nodeArgs ?? []), cli, ...args, ...processes, '-p', '0', '--host', '127.0.0.1'],
    {
      env: { PATH: process.env.PATH, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
      cwd: options.cwd,
    },
  );
  let output = '';
  child.stdout!.on('data', (d) => {
    output += d;
  });
  child.stderr!.on('data', (d) => {
    output += d;
  });
  const port = await new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`server did not start:\n${output}`));
    }, START_MS);
    const onData = (): void => {
      const line = output.split('\n').find((l) => l.includes('"msg":"httpextension listening"'));
      const match = line === undefined ? null : /"port":(\d+)/.exec(line);
      if (match) {
        clearTimeout(timer);
        resolve(Number(match[1]));
      }
    };
    child.stdout!.on('data', onData);
    child.on('exit', () => reject(new Error(`server exited:\n${output}`)));
  });
  const scheme = args.includes('--tls-cert') || env.HX_TLS_CERT ? 'https' : 'http';
  const url = `${scheme}://127.0.0.1:${port}`;
  if (options.waitReady !== false) {
    try {
      await untilReady(url, child, () => output, options.clientCert);
    } catch (error) {
      // A server left running would keep the test file's process alive after the failure is reported.
      child.kill('SIGKILL');
      throw error;
    }
  }
  return {
    child,
    url,
    port,
    output: () => output,
    stop: (signal = 'SIGTERM') => stopChild(child, signal),
  };
}

/**
 * Signals a child process and resolves with its exit code once it has exited (null: ended by a signal), at once if it
 * has exited already: an 'exit' awaited after the event would never come, and the test would hang instead of failing.
 */
export async function stopChild(child: ChildProcess, signal: NodeJS.Signals = 'SIGTERM'): Promise<number | null> {
  if (child.exitCode === null && child.signalCode === null) {
    const exited = once(child, 'exit');
    child.kill(signal);
    await exited;
  }
  return child.exitCode;
}

/** Runs a command and returns its exit code, stdout and stderr (never throws on a non-zero exit). */
export function run(
  file: string,
  args: string[],
  options: { env?: NodeJS.ProcessEnv; input?: string; cwd?: string } = {},
): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = execFile(
      file,
      args,
      { env: options.env ?? process.env, maxBuffer: 16 * 1024 * 1024, encoding: 'utf8', cwd: options.cwd },
      (error, stdout, stderr) => {
        const code = error ? (typeof error.code === 'number' ? error.code : 1) : 0;
        resolve({ code, stdout, stderr });
      },
    );
    if (options.input !== undefined) child.stdin?.end(options.input);
  });
}

/**
 * Polls `GET /health/ready` (the readiness contract an orchestrator uses) until it answers 200; in a group, any
 * process answers 200 only once every process has been ready.
 */
export async function untilReady(
  url: string,
  child: ChildProcess,
  output: () => string,
  clientCert?: { cert: Buffer; key: Buffer },
): Promise<void> {
  const deadline = Date.now() + START_MS;
  while ((await readyStatus(url, clientCert)) !== 200) {
    if (child.exitCode !== null) throw new Error(`server exited before it was ready:\n${output()}`);
    if (Date.now() > deadline) throw new Error(`server was not ready within ${START_MS} ms:\n${output()}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

function readyStatus(url: string, clientCert?: { cert: Buffer; key: Buffer }): Promise<number> {
  const send = url.startsWith('https:') ? httpsRequest : httpRequest;
  return new Promise((resolve) => {
    // Test servers use self-signed certificates; readiness is all this asks.
    const request = send(
      `${url}/health/ready`,
      { rejectUnauthorized: false, agent: false, ...clientCert },
      (response) => {
        response.resume();
        resolve(response.statusCode ?? 0);
      },
    );
    request.on('error', () => resolve(0));
    request.end();
  });
}

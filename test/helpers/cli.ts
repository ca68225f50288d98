import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { once } from 'node:events';
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

/** Starts `httpextension` as a real process on a free port and waits until it is ready. */
export async function startCli(
  args: string[],
  env: NodeJS.ProcessEnv = {},
  options: { waitReady?: boolean; nodeArgs?: string[] } = {},
): Promise<CliServer> {
  const child = spawn(process.execPath, [...(options.nodeArgs ?? []), CLI, ...args, '-p', '0', '--host', '127.0.0.1'], {
    env: { PATH: process.env.PATH, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout!.on('data', (d) => {
    output += d;
  });
  child.stderr!.on('data', (d) => {
    output += d;
  });
  const port = await new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`server did not start:\n${output}`)), 20_000);
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
    const deadline = Date.now() + 20_000;
    while (!output.includes('"msg":"all processors ready"')) {
      if (Date.now() > deadline || child.exitCode !== null) throw new Error(`processors did not load:\n${output}`);
      await new Promise((r) => setTimeout(r, 20));
    }
  }
  return {
    child,
    url,
    port,
    output: () => output,
    stop: async (signal = 'SIGTERM') => {
      if (child.exitCode !== null) return child.exitCode;
      child.kill(signal);
      const [code] = (await once(child, 'exit')) as [number | null];
      return code;
    },
  };
}

/** Runs a command and returns its exit code, stdout and stderr (never throws on a non-zero exit). */
export function run(
  file: string,
  args: string[],
  options: { env?: NodeJS.ProcessEnv; input?: string } = {},
): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = execFile(
      file,
      args,
      { env: options.env ?? process.env, maxBuffer: 16 * 1024 * 1024, encoding: 'utf8' },
      (error, stdout, stderr) => {
        const code = error ? (typeof error.code === 'number' ? error.code : 1) : 0;
        resolve({ code, stdout, stderr });
      },
    );
    if (options.input !== undefined) child.stdin?.end(options.input);
  });
}

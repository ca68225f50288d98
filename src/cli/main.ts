#!/usr/bin/env node
import cluster from 'node:cluster';
import { readFileSync } from 'node:fs';
import { Command, InvalidArgumentError, Option } from 'commander';
import { scoreFile } from '../client/score-client.js';
import { effectiveProcesses } from '../config/defaults.js';
import { loadConfig, redactConfig, setPath } from '../config/load.js';
import { isHxError } from '../errors.js';
import { type ChildMessage, supervise } from './cluster.js';
import { registerPipelineCommand } from './pipeline-command.js';
import type { RunningServer } from './serve.js';

const pkg = JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as { version: string };

function int(value: string): number {
  if (!/^\d+$/.test(value)) throw new InvalidArgumentError('must be a whole number');
  return Number(value);
}

function collect(value: string, previous: string[] = []): string[] {
  return [...previous, value];
}

/** Options shared by `serve` and `config`: every one maps to a config key (flags win over env and file). */
function withServerOptions(command: Command): Command {
  return command
    .option('-p, --port <port>', 'TCP port to listen on (default 5001; 0 picks a free one)', int)
    .option('--host <host>', 'address to listen on (default 0.0.0.0)')
    .option('-c, --config <file>', 'JSON or YAML config file (also HX_CONFIG)')
    .option('--workers <n>', 'worker threads per process; 0 = one per core (default 0)', int)
    .addOption(
      new Option(
        '--execution <mode>',
        'where frames run: worker threads, inline on the event loop, or auto (inline for cheap processors) (default auto)',
      ).choices(['auto', 'workers', 'inline']),
    )
    .option('--processes <n>', 'server processes sharing the port; 0 = one per core (default 1)', int)
    .option('--max-body-bytes <bytes>', 'largest body accepted (default 37748736)', int)
    .option('--max-pixels <pixels>', 'largest image accepted, from its header (default 8847360)', int)
    .option('--request-timeout-ms <ms>', 'deadline per request, queue included (default 10000)', int)
    .option('--max-queued-requests <n>', 'requests that may wait for a worker before 503 (default 64)', int)
    .option('--route <path=processor>', 'POST path -> processor (repeatable; default /score=colorIntensity)', collect)
    .addOption(
      new Option('--log-level <level>', 'log level (default info)').choices([
        'fatal',
        'error',
        'warn',
        'info',
        'debug',
        'trace',
        'silent',
      ]),
    )
    .option('--shutdown-grace-ms <ms>', 'how long SIGTERM waits for requests in flight (default 10000)', int)
    .option('--startup-timeout-ms <ms>', 'processors must load within this, else exit 1 (default 300000)', int)
    .option('--tls-cert <file>', 'PEM certificate (with chain): serve HTTPS (also HX_TLS_CERT)')
    .option('--tls-key <file>', 'PEM private key for --tls-cert (also HX_TLS_KEY)')
    .option('--tls-ca <file>', 'PEM CA bundle: require client certificates it signed (also HX_TLS_CA)')
    .addOption(
      new Option(
        '--auth <schemes>',
        'comma-separated: basic, digest, bearer, header (secrets from HX_AUTH_*)',
      ).argParser((value: string) => value.split(',').map((s) => s.trim())),
    )
    .option('--metrics-port <port>', 'serve /metrics on its own port instead of the main one', int)
    .option('--no-metrics', 'do not serve /metrics');
}

interface ServerFlags {
  port?: number;
  host?: string;
  config?: string;
  workers?: number;
  execution?: string;
  processes?: number;
  maxBodyBytes?: number;
  maxPixels?: number;
  requestTimeoutMs?: number;
  maxQueuedRequests?: number;
  route?: string[];
  logLevel?: string;
  shutdownGraceMs?: number;
  startupTimeoutMs?: number;
  tlsCert?: string;
  tlsKey?: string;
  tlsCa?: string;
  auth?: string[];
  metricsPort?: number;
  metrics?: boolean;
}

function flagsToLayer(flags: ServerFlags): Record<string, unknown> {
  const layer: Record<string, unknown> = {};
  const { config: _file, route, tlsCert, tlsKey, tlsCa, auth, metricsPort, metrics, ...scalars } = flags;
  for (const [key, value] of Object.entries(scalars)) if (value !== undefined) setPath(layer, [key], value);
  if (tlsCert !== undefined) setPath(layer, ['tls', 'certFile'], tlsCert);
  if (tlsKey !== undefined) setPath(layer, ['tls', 'keyFile'], tlsKey);
  if (tlsCa !== undefined) setPath(layer, ['tls', 'caFile'], tlsCa);
  if (auth !== undefined) setPath(layer, ['auth', 'schemes'], auth);
  if (metricsPort !== undefined) setPath(layer, ['metrics', 'port'], metricsPort);
  // commander sets metrics=true unless --no-metrics; only the explicit "off" is a flag value.
  if (metrics === false) setPath(layer, ['metrics', 'enabled'], false);
  if (route !== undefined) {
    layer.routes = route.map((spec) => {
      const eq = spec.indexOf('=');
      if (eq <= 0) throw new InvalidArgumentError(`--route ${spec}: use PATH=PROCESSOR, e.g. /score=colorIntensity`);
      return { path: spec.slice(0, eq), processor: spec.slice(eq + 1), options: {} };
    });
  }
  return layer;
}

async function serve(flags: ServerFlags): Promise<void> {
  const config = loadConfig({ file: flags.config, flags: flagsToLayer(flags) });
  const processes = effectiveProcesses(config);
  if (processes > 1 && cluster.isPrimary) {
    await supervise(config, processes);
    return;
  }
  // Loaded here, not at the top: a supervisor never serves, and stays small without the HTTP and inference stacks.
  const { startServer } = await import('./serve.js');
  let server: RunningServer;
  try {
    server = await startServer(config, { configFile: flags.config ?? process.env.HX_CONFIG });
  } catch (error) {
    const message: ChildMessage = { type: 'hx-start-failed', message: String((error as Error)?.message ?? error) };
    process.send?.(message);
    throw error;
  }
  process.send?.({ type: 'hx-listening', port: server.port } satisfies ChildMessage);
  // Fail fast: a server whose processors cannot load (or keep failing to restart) stops with the reason, rather than
  // staying live and never ready.
  const cannotServe = (error: unknown): void => {
    const reason = String((error as Error)?.message ?? error);
    process.stderr.write(`httpextension: cannot serve: ${reason}\n`);
    process.send?.({ type: 'hx-start-failed', message: reason } satisfies ChildMessage);
    const force = setTimeout(() => process.exit(1), 5000);
    force.unref();
    server.close().finally(() => process.exit(1));
  };
  server.ready.catch(cannotServe);
  void server.fatal.then(cannotServe);
  let signals = 0;
  const stop = (signal: NodeJS.Signals): void => {
    // In a supervised group, Ctrl-C reaches every process; the supervisor turns it into one SIGTERM each.
    if (cluster.isWorker && signal === 'SIGINT') return;
    signals++;
    if (signals > 1) process.exit(1); // a second Ctrl-C means "now"
    process.stderr.write(`${signal}: draining (up to ${config.shutdownGraceMs} ms)\n`);
    const force = setTimeout(() => process.exit(1), config.shutdownGraceMs + 5000);
    force.unref();
    server.close().then(
      () => process.exit(0),
      () => process.exit(1),
    );
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
  process.on('SIGHUP', () => server.reloadTls());
}

const program = new Command()
  .name('httpextension')
  .description('Serve computer-vision AI behind the HTTP extension protocol of video analytics pipelines.')
  .version(pkg.version);

withServerOptions(program.command('serve', { isDefault: true }).description('serve (the default command)')).action(
  serve,
);

withServerOptions(
  program
    .command('config')
    .description('check the configuration as serve would (processors and models loaded once), print it and exit'),
).action(async (flags: ServerFlags) => {
  const config = loadConfig({ file: flags.config, flags: flagsToLayer(flags) });
  const { checkProcessors } = await import('./serve.js');
  await checkProcessors(config, flags.config ?? process.env.HX_CONFIG);
  process.stdout.write(`${JSON.stringify(redactConfig(config), null, 2)}\n`);
});

program
  .command('score')
  .description('POST one image to an extension and print its answer')
  .argument('<image>', 'image file (.jpg, .png, .bmp, or raw pixels with --content-type image/x-raw;...)')
  .requiredOption('--url <url>', 'extension URL, e.g. http://127.0.0.1:5001/score')
  .option('--content-type <type>', 'Content-Type to send (default from the file extension)')
  .option('-H, --header <name:value>', 'extra request header (repeatable)', collect)
  .action(async (image: string, flags: { url: string; contentType?: string; header?: string[] }) => {
    const headers: Record<string, string> = {};
    for (const h of flags.header ?? []) {
      const colon = h.indexOf(':');
      if (colon <= 0) throw new InvalidArgumentError(`--header ${h}: use NAME:VALUE`);
      headers[h.slice(0, colon).trim()] = h.slice(colon + 1).trim();
    }
    const answer = await scoreFile(image, { url: flags.url, contentType: flags.contentType, headers });
    const body = answer.body === '' ? '' : JSON.stringify(answer.body, null, 2);
    process.stdout.write(`HTTP ${answer.status}${answer.retryAfter ? ` (Retry-After: ${answer.retryAfter})` : ''}\n`);
    if (body) process.stdout.write(`${body}\n`);
    if (answer.status >= 400) process.exitCode = 1;
  });

registerPipelineCommand(program);

program.parseAsync(process.argv).catch((error: unknown) => {
  process.stderr.write(`httpextension: ${isHxError(error) ? `${error.code}: ${error.message}` : String(error)}\n`);
  process.exit(2);
});

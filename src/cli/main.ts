#!/usr/bin/env node
import cluster from 'node:cluster';
import { Command } from 'commander';
import { effectiveProcesses } from '../config/defaults.js';
import { loadConfig, redactConfig } from '../config/load.js';
import { isHxError } from '../errors.js';
import { VERSION } from '../version.js';
import { withAvailableDefaults } from './available-routes.js';
import { type ChildMessage, supervise } from './cluster.js';
import { addConfigOptions, flagsToLayer } from './config-flags.js';
import { registerPipelineCommand } from './pipeline-command.js';
import { registerScoreCommand } from './score-command.js';
import type { RunningServer } from './serve.js';
import { builtInProcessorsHelp } from './serve-help.js';

/** Options shared by `serve` and `config`: `--config` and one flag per setting that has one (see config/schema.ts). */
function withServerOptions(command: Command): Command {
  command.option('-c, --config <file>', 'JSON or YAML config file (also HX_CONFIG)');
  return addConfigOptions(command);
}

type ServerFlags = Record<string, unknown> & { config?: string };

const warn = (line: string): void => {
  // In a supervised group every process would say it: the supervisor alone does.
  if (cluster.isPrimary) process.stderr.write(`${line}\n`);
};

async function serve(flags: ServerFlags): Promise<void> {
  const config = withAvailableDefaults(loadConfig({ file: flags.config, flags: flagsToLayer(flags) }), warn);
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
  server.ready.then(() => process.send?.({ type: 'hx-ready' } satisfies ChildMessage), cannotServe);
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
  .version(VERSION, '-V, --version', 'print the version and exit');

const serveCommand = withServerOptions(
  program.command('serve', { isDefault: true }).description('serve (the default command)'),
).action(serve);
// Only --help reads the processors' descriptions and option schemas (pure modules, ~0.1 s to import).
if (process.argv.includes('--help') || process.argv.includes('-h')) {
  serveCommand.addHelpText('after', await builtInProcessorsHelp());
}

withServerOptions(
  program
    .command('config')
    .description(
      'check the configuration as serve does (processors and models loaded once), print it (secrets redacted) and exit',
    ),
).action(async (flags: ServerFlags) => {
  const config = withAvailableDefaults(loadConfig({ file: flags.config, flags: flagsToLayer(flags) }), warn);
  const { checkProcessors } = await import('./serve.js');
  await checkProcessors(config, flags.config ?? process.env.HX_CONFIG);
  process.stdout.write(`${JSON.stringify(redactConfig(config), null, 2)}\n`);
});

registerScoreCommand(program);
registerPipelineCommand(program);

program.parseAsync(process.argv).catch((error: unknown) => {
  process.stderr.write(`httpextension: ${isHxError(error) ? `${error.code}: ${error.message}` : String(error)}\n`);
  process.exit(2);
});

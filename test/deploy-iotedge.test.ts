import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { pathToFileURL } from 'node:url';
import { run } from './helpers/cli.js';
import { effectiveConfig, ROOT, TEST_TLS, tempFiles } from './helpers/deploy.js';

const DIR = join(ROOT, 'deploy/iotedge');
const RENDER = join(DIR, 'render.mjs');

interface ModuleSettings {
  image: string;
  [createOptions: string]: string;
}
interface EdgeModule {
  version?: string;
  type: string;
  status?: string;
  restartPolicy?: string;
  startupOrder?: number;
  settings: ModuleSettings;
  env?: Record<string, { value: string }>;
}
interface Manifest {
  modulesContent: {
    $edgeAgent: {
      'properties.desired': {
        schemaVersion: string;
        runtime: { type: string; settings: { registryCredentials: Record<string, Record<string, string>> } };
        systemModules: Record<'edgeAgent' | 'edgeHub', EdgeModule>;
        modules: Record<string, EdgeModule>;
      };
    };
    $edgeHub: { 'properties.desired': { schemaVersion: string; routes: object; storeAndForwardConfiguration: object } };
  } & Record<string, unknown>;
}
interface CreateOptions {
  Cmd: string[];
  ExposedPorts?: Record<string, object>;
  StopTimeout?: number;
  Labels?: Record<string, string>;
  HostConfig: { PortBindings?: Record<string, Array<{ HostPort: string }>>; Binds: string[]; IpcMode?: string };
}
interface RenderModule {
  render(template: unknown, vars: Record<string, string>, options?: { pipeline?: boolean }): Manifest;
  parseEnvFile(text: string): Record<string, string>;
  CHUNK: number;
}

const renderModule = (await import(pathToFileURL(RENDER).href)) as RenderModule;
const template = JSON.parse(readFileSync(join(DIR, 'deployment.template.json'), 'utf8')) as unknown;
const exampleVars = renderModule.parseEnvFile(readFileSync(join(DIR, 'example.env'), 'utf8'));

/** createOptions back from its chunks, as edgeAgent joins them. */
function createOptionsOf(module: EdgeModule): CreateOptions {
  const keys = Object.keys(module.settings)
    .filter((k) => /^createOptions(0[1-7])?$/.test(k))
    .sort();
  for (const k of keys) assert.ok(module.settings[k]!.length <= renderModule.CHUNK, `${k} fits one twin value`);
  return JSON.parse(keys.map((k) => module.settings[k]).join('')) as CreateOptions;
}

function envOf(module: EdgeModule): Record<string, string> {
  return Object.fromEntries(Object.entries(module.env ?? {}).map(([k, v]) => [k, v.value]));
}

/** Rewrites a path inside a container to the host folder bound there (createOptions Binds "host:container:ro"). */
function hostPath(binds: readonly string[], path: string, hostDirs: Record<string, string>): string {
  for (const bind of binds) {
    const [, container] = bind.split(':');
    if (container && path.startsWith(`${container}/`)) return hostDirs[container]! + path.slice(container.length);
  }
  return path;
}

describe('IoT Edge deployment manifest', () => {
  const manifest = renderModule.render(template, exampleVars);
  const agent = manifest.modulesContent.$edgeAgent['properties.desired'];
  const extension = agent.modules.httpextension!;
  const pipeline = agent.modules.pipeline!;

  test('the rendered manifest has the shape edgeAgent and edgeHub take (schema 1.1)', () => {
    assert.deepEqual(Object.keys(manifest), ['modulesContent']);
    assert.deepEqual(Object.keys(manifest.modulesContent).sort(), ['$edgeAgent', '$edgeHub']);
    assert.equal(agent.schemaVersion, '1.1');
    assert.equal(agent.runtime.type, 'docker');
    assert.deepEqual(Object.keys(agent.systemModules).sort(), ['edgeAgent', 'edgeHub']);
    assert.equal(manifest.modulesContent.$edgeHub['properties.desired'].schemaVersion, '1.1');
    for (const [name, module] of Object.entries({ ...agent.systemModules, ...agent.modules })) {
      assert.equal(module.type, 'docker', name);
      assert.equal(typeof module.settings.image, 'string', name);
      createOptionsOf(module); // parses, every chunk within the limit
      if (name !== 'edgeAgent') assert.equal(module.restartPolicy, 'always', name);
      if (name !== 'edgeAgent') assert.equal(module.status, 'running', name);
    }
    assert.equal(extension.settings.image, exampleVars.HTTPEXTENSION_IMAGE);
    assert.equal(pipeline.settings.image, extension.settings.image, 'the pipeline runner is the same image');
    assert.deepEqual(agent.runtime.settings.registryCredentials.registry, {
      address: exampleVars.CONTAINER_REGISTRY_ADDRESS,
      username: exampleVars.CONTAINER_REGISTRY_USERNAME,
      password: exampleVars.CONTAINER_REGISTRY_PASSWORD,
    });
  });

  test('httpextension: HTTP and gRPC ports published, certificate and secret folders bound read-only, stop timeout over the drain', () => {
    const options = createOptionsOf(extension);
    const port = options.Cmd[options.Cmd.indexOf('-p') + 1];
    const grpcPort = options.Cmd[options.Cmd.indexOf('--grpc-port') + 1];
    assert.notEqual(port, grpcPort);
    assert.deepEqual(options.ExposedPorts, { [`${port}/tcp`]: {}, [`${grpcPort}/tcp`]: {} });
    assert.deepEqual(options.HostConfig.PortBindings, {
      [`${port}/tcp`]: [{ HostPort: port }],
      [`${grpcPort}/tcp`]: [{ HostPort: grpcPort }],
    });
    assert.ok(options.HostConfig.Binds.some((b) => /^\/[^:]+:\/certs:ro$/.test(b)));
    assert.ok(options.HostConfig.Binds.every((b) => b.endsWith(':ro')));
    const drainSeconds = Number(envOf(extension).HX_SHUTDOWN_GRACE_MS) / 1000;
    assert.ok(options.StopTimeout! >= drainSeconds + 5, 'docker stop waits past the drain and the CLI margin');
  });

  test('httpextension: its command line and environment give a valid configuration', async () => {
    const options = createOptionsOf(extension);
    const secrets = tempFiles({ password: 'pipeline-secret\n' });
    const certs = tempFiles({ 'server.pem': TEST_TLS.cert, 'server.key': TEST_TLS.key });
    const hostDirs = { '/run/secrets/httpextension': secrets, '/certs': certs };
    const env = Object.fromEntries(
      Object.entries(envOf(extension)).map(([k, v]) => [k, hostPath(options.HostConfig.Binds, v, hostDirs)]),
    );
    const result = await effectiveConfig(options.Cmd, env);
    assert.equal(result.code, 0, result.stderr);
    const config = result.config as {
      port: number;
      grpc: { port: number };
      auth: { schemes: string[]; users: Array<{ username: string }> };
    };
    assert.equal(String(config.port), options.Cmd[options.Cmd.indexOf('-p') + 1]);
    assert.equal(String(config.grpc.port), options.Cmd[options.Cmd.indexOf('--grpc-port') + 1]);
    assert.deepEqual(config.auth.schemes, ['basic', 'digest']);
    assert.equal(config.auth.users[0]!.username, exampleVars.HTTPEXTENSION_USERNAME);

    // The same module with TLS on, as docs/deploy.md shows: the certificate folder is where the files are.
    const tls = await effectiveConfig(options.Cmd, {
      ...env,
      HX_TLS_CERT: hostPath(options.HostConfig.Binds, '/certs/server.pem', hostDirs),
      HX_TLS_KEY: hostPath(options.HostConfig.Binds, '/certs/server.key', hostDirs),
    });
    assert.equal(tls.code, 0, tls.stderr);
  });

  test('pipeline: starts after the extension, shares its IPC namespace, points its pipelines at its HTTP or gRPC port', async () => {
    const options = createOptionsOf(pipeline);
    // Shared memory files a GrpcExtension node creates in /dev/shm must be the extension's /dev/shm too.
    const ipc = [options.HostConfig.IpcMode, createOptionsOf(extension).HostConfig.IpcMode];
    assert.ok(
      (ipc[0] === 'host' && ipc[1] === 'host') || (ipc[0] === 'container:httpextension' && ipc[1] === 'shareable'),
      `IpcMode ${ipc.join(' / ')}`,
    );
    assert.ok(pipeline.startupOrder! > extension.startupOrder!);
    assert.equal(options.Cmd[0], 'pipeline');
    // AVA subjects name the edge module that sends them (/edgeModules/{module}/...): this one is "pipeline".
    assert.ok(Object.keys(agent.modules).includes('pipeline'));
    assert.equal(options.Cmd[options.Cmd.indexOf('--module-name') + 1], 'pipeline');
    const list = options.Cmd[options.Cmd.indexOf('--live-pipelines') + 1]!;
    assert.ok(options.HostConfig.Binds.some((b) => b.endsWith(`:${list.slice(0, list.lastIndexOf('/'))}:ro`)));

    const livePipelines = JSON.parse(readFileSync(join(DIR, 'live-pipelines.json'), 'utf8')) as Array<{
      name: string;
      properties: { topologyFile: string; parameters: Array<{ name: string; value: string }> };
    }>;
    assert.ok(livePipelines.length >= 1);
    const extensionOptions = createOptionsOf(extension);
    const port = extensionOptions.Cmd[extensionOptions.Cmd.indexOf('-p') + 1];
    const grpcPort = extensionOptions.Cmd[extensionOptions.Cmd.indexOf('--grpc-port') + 1];
    const served = await effectiveConfig(extensionOptions.Cmd, {});
    assert.equal(served.code, 0, served.stderr);
    const routes = (served.config as { routes: Array<{ path: string }> }).routes.map((r) => r.path);
    const kinds = new Set<string>();
    for (const live of livePipelines) {
      const params = new Map(live.properties.parameters.map((p) => [p.name, p.value]));
      // The module name is the extension's host name on the IoT Edge network.
      if (params.has('grpcExtensionAddress')) {
        kinds.add('grpc');
        assert.equal(params.get('grpcExtensionAddress'), `tcp://httpextension:${grpcPort}`);
        const configuration = params.get('extensionConfiguration') ?? '';
        assert.ok(
          configuration === '' || routes.includes(configuration),
          `${configuration} is a route the server serves`,
        );
        assert.equal(params.get('grpcExtensionUserName'), exampleVars.HTTPEXTENSION_USERNAME);
        for (const name of ['rtspUrl', 'grpcExtensionPassword']) assert.ok(params.get(name), name);
        continue;
      }
      kinds.add('http');
      const url = new URL(params.get('inferencingUrl')!);
      assert.equal(`${url.protocol}//${url.host}`, `http://httpextension:${port}`);
      assert.ok(routes.includes(url.pathname), `${url.pathname} is a route the server serves`);
      assert.equal(params.get('inferencingUserName'), exampleVars.HTTPEXTENSION_USERNAME);
      for (const name of ['rtspUrl', 'inferencingPassword']) assert.ok(params.get(name), name);
    }
    assert.deepEqual([...kinds].sort(), ['grpc', 'http'], 'an example of each');
  });

  test('--no-pipeline leaves the extension alone; a missing variable is named and nothing is written', async () => {
    const alone = renderModule.render(template, exampleVars, { pipeline: false });
    assert.deepEqual(Object.keys(alone.modulesContent.$edgeAgent['properties.desired'].modules), ['httpextension']);

    const { HTTPEXTENSION_IMAGE: _image, ...withoutImage } = exampleVars;
    const result = await run(process.execPath, [RENDER], { env: { PATH: process.env.PATH, ...withoutImage } });
    assert.equal(result.code, 2);
    assert.equal(result.stdout, '');
    assert.equal(result.stderr, 'render: missing variables: HTTPEXTENSION_IMAGE\n');

    const cli = await run(process.execPath, [RENDER, '--env', join(DIR, 'example.env')], {
      env: { PATH: process.env.PATH },
    });
    assert.equal(cli.code, 0, cli.stderr);
    assert.deepEqual(JSON.parse(cli.stdout), manifest);
  });

  test('createOptions longer than 512 characters are cut into createOptions01.. and join back', () => {
    const big = structuredClone(template) as { modulesContent: { $edgeAgent: Record<string, unknown> } };
    const desired = big.modulesContent.$edgeAgent['properties.desired'] as {
      modules: { httpextension: { settings: { createOptions: { Labels?: Record<string, string> } } } };
    };
    desired.modules.httpextension.settings.createOptions.Labels = { note: 'x'.repeat(1200) };
    const out = renderModule.render(big, exampleVars);
    const module = out.modulesContent.$edgeAgent['properties.desired'].modules.httpextension!;
    assert.deepEqual(
      Object.keys(module.settings).filter((k) => k.startsWith('createOptions')),
      ['createOptions', 'createOptions01', 'createOptions02', 'createOptions03'],
    );
    assert.equal(createOptionsOf(module).Labels?.note, 'x'.repeat(1200));
  });
});

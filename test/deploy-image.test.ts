import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, readFileSync, statSync } from 'node:fs';
import net from 'node:net';
import { dirname, join, posix } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { pathToFileURL } from 'node:url';
import { SERVER_HEAP_FLAGS } from '../src/cli/heap-flags.js';
import { CLI, run, stopChild, untilReady } from './helpers/cli.js';
import { ROOT } from './helpers/deploy.js';

// What the image runs, run here: the Dockerfile's ENTRYPOINT (the CLI) as the image's user, its HEALTHCHECK script
// against it, and SIGTERM. deploy/image/test-image.sh runs the same against the built image in CI.

const HEALTHCHECK = join(ROOT, 'deploy/image/healthcheck.mjs');
const dockerfile = readFileSync(join(ROOT, 'Dockerfile'), 'utf8');

interface HealthcheckModule {
  flagValue(argv: string[], long: string, short?: string): string | undefined;
  probeTarget(argv: string[], env: Record<string, string>): { port: number; host: string; tls: boolean };
}
const healthcheck = (await import(pathToFileURL(HEALTHCHECK).href)) as HealthcheckModule;

/** The Dockerfile's instructions of one kind in the final stage, with their arguments. */
function finalStage(instruction: string): string[] {
  const stages = dockerfile.split(/^FROM /m);
  const last = stages[stages.length - 1]!;
  return [...last.matchAll(new RegExp(`^${instruction}\\s+(.+)$`, 'gm'))].map((m) => m[1]!);
}

/** The ENTRYPOINT's node flags (between `node` and the script). */
const entrypointNodeFlags = (): string[] => (JSON.parse(finalStage('ENTRYPOINT')[0]!) as string[]).slice(1, -1);

async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/** True when a user other than the owner can read the checkout (every folder up to / searchable by others). */
function readableByOthers(path: string): boolean {
  for (let p = path; ; p = dirname(p)) {
    if ((statSync(p).mode & 0o005) !== 0o005) return false;
    if (dirname(p) === p) return true;
  }
}
const switchUser = process.getuid?.() === 0 && readableByOthers(join(ROOT, 'node_modules'));

/**
 * Starts the CLI as the image does (ENTRYPOINT + arguments). As root, it runs as the image's user, so that nothing
 * it needs at run time calls for root (CI is root and checks out world-readable); deploy/image/test-image.sh checks
 * the same inside the image.
 */
function startAsImageUser(
  args: string[],
  env: Record<string, string> = {},
): { child: ChildProcess; log: () => string } {
  const user = /^(\d+):(\d+)$/.exec(finalStage('USER')[0] ?? '');
  assert.ok(user, 'USER is numeric');
  const asRoot = switchUser;
  const child = spawn(process.execPath, [...entrypointNodeFlags(), CLI, ...args], {
    env: { PATH: process.env.PATH, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
    ...(asRoot ? { uid: Number(user[1]), gid: Number(user[2]) } : {}),
  });
  let log = '';
  child.stdout!.on('data', (d) => {
    log += d;
  });
  child.stderr!.on('data', (d) => {
    log += d;
  });
  return { child, log: () => log };
}

describe('Dockerfile', () => {
  test('final stage: numeric non-root user, exec-form ENTRYPOINT on the built CLI, HEALTHCHECK on its script', () => {
    const [user] = finalStage('USER');
    assert.match(user!, /^\d+:\d+$/);
    assert.notEqual(user!.split(':')[0], '0');
    const entrypoint = JSON.parse(finalStage('ENTRYPOINT')[0]!) as string[];
    assert.deepEqual(entrypoint, ['node', ...SERVER_HEAP_FLAGS, '/app/dist/src/cli/main.js']);
    // /app is the repository root's layout: the built CLI is where the ENTRYPOINT looks for it.
    assert.ok(existsSync(join(ROOT, entrypoint.at(-1)!.replace('/app/', ''))));
    assert.match(finalStage('HEALTHCHECK')[0]!, /CMD \["node", "\/app\/healthcheck\.mjs"\]$/);
    assert.ok(finalStage('COPY').includes('deploy/image/healthcheck.mjs ./healthcheck.mjs'));
    assert.deepEqual(finalStage('STOPSIGNAL'), ['SIGTERM']);
  });

  test('OCI labels (version, source, licence) and a tag with the package version, which test-image.sh builds', () => {
    // The LABEL instruction spans lines: read the final stage's text.
    const labels = dockerfile.split(/^FROM /m).pop()!;
    const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string; license: string };
    assert.match(labels, /org\.opencontainers\.image\.version="\$\{VERSION\}"/);
    assert.match(labels, /org\.opencontainers\.image\.source="\$\{SOURCE\}"/);
    assert.match(labels, new RegExp(`org\\.opencontainers\\.image\\.licenses="${pkg.license}"`));
    assert.deepEqual(finalStage('ARG').slice(0, 1), ['VERSION']);
    const script = readFileSync(join(ROOT, 'deploy/image/test-image.sh'), 'utf8');
    assert.match(script, /^VERSION=\$\(node -p "require\('\.\/package\.json'\)\.version"\)$/m);
    assert.match(script, /--build-arg "VERSION=\$VERSION" .*-t "\$RELEASE"/);
    assert.match(script, /^RELEASE=localhost\/httpextension:\$VERSION$/m);
    // The README's run command, against the release tag.
    assert.match(
      script,
      /podman run -d -p "\$PORT:\$PORT" --name "\$NAME" "\$\{RUN_FLAGS\[@\]\}" "\$RELEASE" -p "\$PORT"/,
    );
  });

  test('production dependencies only, no install scripts needed, and the build context holds what COPY reads', () => {
    assert.match(dockerfile, /npm ci --omit=dev --ignore-scripts/);
    const lock = JSON.parse(readFileSync(join(ROOT, 'package-lock.json'), 'utf8')) as {
      packages: Record<string, { hasInstallScript?: boolean; dev?: boolean }>;
    };
    // onnxruntime-node's only fetches optional CUDA binaries (the CPU runtime is in the package): skipped everywhere.
    // protobufjs's (under @grpc/proto-loader) only warns about its dependents' version scheme. The ffmpeg packages
    // (the runner's optional peer, a development dependency here) are added at the lockfile's version for the
    // image's pipeline module, and their only script, `chmod u+x ffmpeg`, is the Dockerfile's own.
    assert.match(
      dockerfile,
      /npm install --prefix \/tmp\/ffmpeg --ignore-scripts .*"@ffmpeg-installer\/ffmpeg@\$\{ffmpeg\}"/,
    );
    assert.match(dockerfile, /-path '\*@ffmpeg-installer\/\*' -name ffmpeg -type f -exec chmod 0755/);
    const optional = new Set(['node_modules/onnxruntime-node', 'node_modules/protobufjs']);
    const scripted = Object.entries(lock.packages).filter(
      ([name, p]) => name !== '' && p.hasInstallScript && !p.dev && !optional.has(name),
    );
    assert.deepEqual(
      scripted.map(([name]) => name),
      [],
      '--ignore-scripts would skip these',
    );

    const allowed = readFileSync(join(ROOT, '.dockerignore'), 'utf8')
      .split('\n')
      .filter((l) => l.startsWith('!'))
      .map((l) => l.slice(1));
    const sources = [...dockerfile.matchAll(/^COPY (?!--from)(.+) \S+$/gm)].flatMap((m) => m[1]!.split(' '));
    assert.ok(sources.length >= 4);
    for (const source of sources) {
      assert.ok(allowed.includes(source), `${source} is let through .dockerignore`);
      assert.ok(existsSync(join(ROOT, source)), `${source} exists`);
    }
  });

  test('the JPEG binding is copied to where the compiled jpeg-native.js requires it', () => {
    const source = readFileSync(join(ROOT, 'src/inference/jpeg-native.ts'), 'utf8');
    const required = /require\('([^']+jpeg_turbo\.node)'\)/.exec(source)?.[1];
    assert.ok(required, 'jpeg-native.ts requires the binding by a relative path');
    // The final stage works in /app and holds dist/src there; the native stage leaves the binding under /out.
    assert.deepEqual(finalStage('WORKDIR'), ['/app']);
    const inImage = posix.resolve('/app/dist/src/inference', required);
    assert.equal(inImage, '/app/native/jpeg-turbo/build/Release/jpeg_turbo.node');
    assert.ok(finalStage('COPY').includes('--from=native /out/ ./'));
    assert.match(
      dockerfile,
      /cp native\/jpeg-turbo\/build\/Release\/jpeg_turbo\.node \/out\/native\/jpeg-turbo\/build\/Release\//,
    );
    // The library it links against, installed in the final stage (with the fonts /annotate's labels are drawn in).
    const runtime = dockerfile.split(/^FROM /m).at(-1)!;
    assert.match(
      runtime,
      /apt-get install -y --no-install-recommends libjpeg62-turbo fontconfig-config fonts-dejavu-core \\$/m,
    );
  });
});

describe('health check script', () => {
  test('reads the port from the server flags, then HX_PORT, then 5001; TLS from --tls-cert or HX_TLS_CERT', () => {
    const { probeTarget, flagValue } = healthcheck;
    const main = ['node', ...SERVER_HEAP_FLAGS, '/app/dist/src/cli/main.js'];
    assert.deepEqual(probeTarget([...main, '-p', '6000'], {}), { port: 6000, host: '127.0.0.1', tls: false });
    assert.equal(probeTarget([...main, '-p6001'], {}).port, 6001);
    assert.equal(probeTarget([...main, '--port=6002'], { HX_PORT: '7000' }).port, 6002);
    assert.equal(probeTarget([...main, 'serve', '--port', '6003'], {}).port, 6003);
    assert.equal(probeTarget([...main], { HX_PORT: '7000' }).port, 7000);
    assert.equal(probeTarget([...main], {}).port, 5001);
    assert.equal(probeTarget([...main, '--tls-cert', '/c.pem'], {}).tls, true);
    assert.equal(probeTarget([...main], { HX_TLS_CERT: '/c.pem' }).tls, true);
    assert.deepEqual(probeTarget([...main, '--host', '10.1.2.3'], {}), { port: 5001, host: '10.1.2.3', tls: false });
    assert.equal(probeTarget([...main], { HX_HOST: '::' }).host, '127.0.0.1');
    assert.equal(flagValue(['-p', '1', '--port', '2'], '--port', '-p'), '2', 'the last flag wins, as in commander');
  });

  describe('against the CLI started as the image starts it', () => {
    let port: number;
    let server: { child: ChildProcess; log: () => string };
    before(async () => {
      port = await freePort();
      server = startAsImageUser(['-p', String(port), '--host', '127.0.0.1', '--workers', '1']);
      await untilReady(`http://127.0.0.1:${port}`, server.child, server.log);
    });
    after(async () => {
      await stopChild(server.child, 'SIGKILL');
    });

    test('runs as the image user (or as the unprivileged user running the tests)', () => {
      const status = readFileSync(`/proc/${server.child.pid}/status`, 'utf8');
      const uid = Number(/^Uid:\s+(\d+)\s/m.exec(status)![1]);
      assert.equal(uid, switchUser ? Number(finalStage('USER')[0]!.split(':')[0]) : process.getuid?.());
    });

    test('healthy: exit 0 with the port read from the server process command line', async () => {
      const result = await run(process.execPath, [HEALTHCHECK, String(server.child.pid)], {
        env: { PATH: process.env.PATH },
      });
      assert.equal(result.code, 0, result.stdout + result.stderr);
      assert.equal(result.stdout, `ready: http://127.0.0.1:${port}/health/ready\n`);
    });

    test('unhealthy: exit 1 when nothing answers there', async () => {
      const closed = await freePort();
      const result = await run(process.execPath, [HEALTHCHECK, 'none'], {
        env: { PATH: process.env.PATH, HX_PORT: String(closed) },
      });
      assert.equal(result.code, 1);
      assert.equal(result.stdout, `not ready: http://127.0.0.1:${closed}/health/ready\n`);
    });

    test('SIGTERM: node drains and exits 0; after that the health check fails', async () => {
      assert.equal(await stopChild(server.child), 0, server.log());
      assert.match(server.log(), /^SIGTERM: draining/m);
      const result = await run(process.execPath, [HEALTHCHECK, 'none'], {
        env: { PATH: process.env.PATH, HX_PORT: String(port) },
      });
      assert.equal(result.code, 1);
    });
  });
});

import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { SERVER_HEAP_FLAGS, withServerHeapFlags } from '../src/cli/heap-flags.js';
import { CLI, startCli } from './helpers/cli.js';
import { ROOT } from './helpers/deploy.js';

// V8 reads the heap flags only when a process starts, so they must be on the launchers we ship (the Dockerfile's
// ENTRYPOINT is checked in deploy-image.test.ts, the supervisor's server processes in execution.test.ts); the bin,
// which cannot carry them portably, makes the server say they are missing.

describe('server heap flags', () => {
  test('added in front of the process flags, unless a flag of that name is given (either spelling, or NODE_OPTIONS)', () => {
    assert.deepEqual(withServerHeapFlags([], {}), [...SERVER_HEAP_FLAGS]);
    assert.deepEqual(withServerHeapFlags(['--enable-source-maps'], {}), [...SERVER_HEAP_FLAGS, '--enable-source-maps']);
    assert.deepEqual(withServerHeapFlags(['--max-semi-space-size=16'], {}), [
      '--initial-heap-size=128',
      '--max-semi-space-size=16',
    ]);
    assert.deepEqual(withServerHeapFlags(['--initial_heap_size=64'], {}), [
      '--max-semi-space-size=64',
      '--initial_heap_size=64',
    ]);
    assert.deepEqual(withServerHeapFlags([], { NODE_OPTIONS: '--max-semi-space-size=8' }), ['--initial-heap-size=128']);
  });

  test('npm start runs node with them', () => {
    const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { scripts: Record<string, string> };
    assert.equal(pkg.scripts.start, `node ${SERVER_HEAP_FLAGS.join(' ')} dist/src/cli/main.js serve`);
  });

  test('the httpextension bin keeps a plain node shebang, which every env runs (busybox and BSD env have no -S)', () => {
    assert.equal(readFileSync(CLI, 'utf8').split('\n')[0], '#!/usr/bin/env node');
  });

  test('a server started without them says which are missing, once; with them (or its own) it says nothing', async () => {
    const args = ['--route', '/score=colorIntensity', '--workers', '1', '--log-level', 'info'];
    const said = /"missing":(\[[^\]]*\]),"msg":"started without the server heap flags/;
    const servers = await Promise.all([
      startCli(args),
      // NODE_OPTIONS may carry --max-semi-space-size, not --initial-heap-size (node refuses it there).
      startCli(args, { NODE_OPTIONS: '--max-semi-space-size=16' }),
      startCli(args, {}, { nodeArgs: [...SERVER_HEAP_FLAGS] }),
      startCli(args, {}, { nodeArgs: ['--max-semi-space-size=16', '--initial_heap_size=32'] }),
    ]);
    try {
      const missing = servers.map((s) => {
        const found = s.output().match(new RegExp(said.source, 'g')) ?? [];
        assert.ok(found.length <= 1, 'said once at most');
        return found.length === 0 ? [] : JSON.parse(said.exec(found[0]!)![1]!);
      });
      assert.deepEqual(missing, [[...SERVER_HEAP_FLAGS], ['--initial-heap-size=128'], [], []]);
    } finally {
      await Promise.all(servers.map((s) => s.stop()));
    }
  });
});

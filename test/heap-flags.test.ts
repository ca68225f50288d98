import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { promisify } from 'node:util';
import { SERVER_HEAP_FLAGS, withServerHeapFlags } from '../src/cli/heap-flags.js';
import { CLI } from './helpers/cli.js';
import { ROOT } from './helpers/deploy.js';

// The heap flags must be on every launcher we ship (the Dockerfile's ENTRYPOINT is checked in deploy-image.test.ts,
// the supervisor's server processes in execution.test.ts): V8 reads them only when a process starts.

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
    assert.deepEqual(withServerHeapFlags([], { NODE_OPTIONS: '--max-semi-space-size=8 --initial-heap-size=32' }), []);
  });

  test('npm start runs node with them', () => {
    const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { scripts: Record<string, string> };
    assert.equal(pkg.scripts.start, `node ${SERVER_HEAP_FLAGS.join(' ')} dist/src/cli/main.js serve`);
  });

  test('the httpextension bin runs node with them through its shebang, which works here', async () => {
    const shebang = readFileSync(CLI, 'utf8').split('\n')[0]!;
    assert.equal(shebang, `#!/usr/bin/env -S node ${SERVER_HEAP_FLAGS.join(' ')}`);
    // What the kernel does with it: the interpreter, its one argument, then the script and the user's arguments.
    const [interpreter, argument] = shebang.slice(2).split(/ (.*)/s);
    const { stdout } = await promisify(execFile)(interpreter!, [argument!, CLI, '--version']);
    const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string };
    assert.equal(stdout.trim(), pkg.version);
  });
});

import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, normalize, relative } from 'node:path';
import { describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';

/**
 * The boundaries of src/, read from the sources' own import statements: front ends see only the engine's API, the
 * pipeline (the client side) nothing of the server, the processor contract depends on nothing but the schema, and no
 * two folders depend on each other in a cycle.
 */

const SRC = fileURLToPath(new URL('../../src/', import.meta.url));
const IMPORT = /(?:from\s+|import\(\s*|import\s+)['"](\.{1,2}\/[^'"]+)['"]/g;

interface Edge {
  file: string;
  target: string;
}

function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return sources(path);
    return entry.name.endsWith('.ts') ? [path] : [];
  });
}

/** Every relative import in src/, as paths relative to src/ (src/a/b.ts imports '../c/d.js': a/b.ts -> c/d.ts). */
function imports(): Edge[] {
  return sources(SRC).flatMap((path) => {
    const file = relative(SRC, path);
    return [...readFileSync(path, 'utf8').matchAll(IMPORT)].map((m) => ({
      file,
      target: normalize(join(dirname(file), m[1]!)).replace(/\.js$/, '.ts'),
    }));
  });
}

const folderOf = (file: string): string => (file.includes('/') ? file.split('/')[0]! : '(root)');

describe('architecture', () => {
  const edges = imports();

  test('no folder of src/ depends on itself through others (no cycles)', () => {
    const graph = new Map<string, Set<string>>();
    for (const { file, target } of edges) {
      const [from, to] = [folderOf(file), folderOf(target)];
      if (from !== to) graph.set(from, (graph.get(from) ?? new Set()).add(to));
    }
    // (root) is errors.ts, a leaf every folder may import, and index.ts, the public API that re-exports; index.ts is
    // left out of the cycle check since nothing inside src imports it.
    const state = new Map<string, 'open' | 'done'>();
    const visit = (node: string, path: string[]): void => {
      if (state.get(node) === 'done') return;
      assert.notEqual(state.get(node), 'open', `folder cycle: ${[...path, node].join(' -> ')}`);
      state.set(node, 'open');
      for (const next of graph.get(node) ?? []) {
        if (node === '(root)' && next !== '(root)') continue;
        visit(next, [...path, node]);
      }
      state.set(node, 'done');
    };
    for (const node of graph.keys()) visit(node, []);
    assert.ok(graph.size >= 8, 'the import scan found the folders');
  });

  test('front ends import nothing of src/inference but the engine API', () => {
    const seen = edges.filter((e) => e.file.startsWith('protocol/') && e.target.startsWith('inference/'));
    assert.ok(seen.length > 0, 'the HTTP front end calls the engine');
    assert.deepEqual([...new Set(seen.map((e) => e.target))], ['inference/engine.ts']);
  });

  test('the pipeline (client side) imports nothing of the server', () => {
    const server = ['protocol/', 'inference/', 'processors/', 'cli/', 'observability/'];
    const crossing = edges.filter((e) => e.file.startsWith('pipeline/') && server.some((s) => e.target.startsWith(s)));
    assert.deepEqual(crossing, []);
  });

  test('the processor contract and processors import nothing of the engine or the front ends', () => {
    const crossing = edges.filter(
      (e) =>
        (e.file.startsWith('contract/') && !/^(contract|schema)\//.test(e.target)) ||
        ((e.file.startsWith('processors/') || e.file.startsWith('vision/')) &&
          /^(inference|protocol|cli|pipeline)\//.test(e.target)),
    );
    assert.deepEqual(crossing, []);
  });
});

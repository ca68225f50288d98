import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';

const require = createRequire(import.meta.url);

/**
 * A file shipped inside an installed npm package. Packages with an `exports` map hide their folders, so the path is
 * taken relative to the entry point that `entry` resolves to (e.g. `@vladmandic/human` -> dist/human.node.js).
 */
export function packageFile(entry: string, relativeToEntryDir: string): string {
  return join(dirname(require.resolve(entry)), relativeToEntryDir);
}

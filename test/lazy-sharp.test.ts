import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';

/**
 * libvips (sharp) is loaded lazily everywhere: no module maps it at import, and serving JPEG, BMP, raw and 8-bit PNG
 * never needs it. Read from what a child process has really mapped (helpers/loaded-libraries.ts), not from our
 * imports, so that an eager `import sharp` anywhere, ours or a dependency's, fails here.
 */
const HELPER = fileURLToPath(new URL('./helpers/loaded-libraries.js', import.meta.url));

function run(mode: string): Record<string, unknown> {
  const out = execFileSync(process.execPath, [HELPER, mode], { encoding: 'utf8', timeout: 60_000 });
  return JSON.parse(out.trim().split('\n').at(-1)!) as Record<string, unknown>;
}

describe('sharp is loaded only when a frame needs it', () => {
  test('importing every module of src/ maps neither libvips nor @napi-rs/image', () => {
    assert.deepEqual(run('import-all'), { afterImport: { sharp: false, napi: false } });
  });

  test('serving JPEG, BMP (RLE too), raw and 8-bit PNG on workers and inline never maps libvips; alpha PNG does', () => {
    const report = run('serve');
    const each = [...new Array(5).fill(200), ...new Array(5).fill(204)]; // /score, then /motion (a still scene)
    assert.deepEqual(report.statuses, [...each, ...each]);
    assert.deepEqual(report.afterServing, { sharp: false, napi: true });
    assert.deepEqual(report.control, [200]);
    assert.deepEqual(report.afterControl, { sharp: true, napi: true });
  });
});

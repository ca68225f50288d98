// Builds the optional libjpeg-turbo binding at `npm install`. It is optional: without a C toolchain or the libjpeg
// headers (Debian: libjpeg62-turbo-dev) the build fails, this script says so and exits 0, and JPEGs are decoded by
// sharp instead. Nothing is downloaded: node-gyp is the copy npm ships and uses the local Node headers.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
// Under npm, npm_config_node_gyp names its bundled node-gyp; run by hand, look for npm's copy beside node.
const gyp = [
  process.env.npm_config_node_gyp,
  join(dirname(process.execPath), '../lib/node_modules/npm/node_modules/node-gyp/bin/node-gyp.js'),
].find((candidate) => candidate !== undefined && existsSync(candidate));
const args = ['rebuild', '--loglevel=warn'];
// Node installed from a distribution package keeps its headers under /usr/include/node: point node-gyp there
// rather than let it fetch a tarball (there is no network at install time).
if (process.env.npm_config_nodedir === undefined && existsSync('/usr/include/node/node_api.h'))
  args.push('--nodedir=/usr');
const result =
  gyp !== undefined
    ? spawnSync(process.execPath, [gyp, ...args], { cwd: here, stdio: 'inherit' })
    : spawnSync('node-gyp', args, { cwd: here, stdio: 'inherit', shell: process.platform === 'win32' });
if (result.status === 0) {
  console.log('httpextension: built the libjpeg-turbo binding (native/jpeg-turbo)');
} else {
  console.warn(
    'httpextension: the optional libjpeg-turbo binding was not built (install libjpeg62-turbo-dev or your ' +
      "system's libjpeg-turbo headers and a C compiler, then `npm rebuild httpextension`); JPEGs will be decoded by sharp.",
  );
}

import { readFileSync } from 'node:fs';

/** The package's version (semver), read once from the package.json shipped beside dist/. */
export const VERSION: string = (
  JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }
).version;

import { existsSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';

/**
 * Resolves once `file` exists: the tests' release (helpers/http.ts releaseFile), which works across threads and
 * processes. It waits on the test's signal, not on time.
 */
export async function released(file: string): Promise<void> {
  while (!existsSync(file)) await sleep(5);
}

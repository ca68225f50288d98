import { createHash, timingSafeEqual } from 'node:crypto';

/**
 * Compares a presented secret with the configured ones in constant time. Both sides are hashed first so that
 * neither the length nor the position of the first differing byte shows in the timing, and every candidate is
 * compared (no early exit) so the number of configured secrets is all that timing can reveal.
 */
export function matchesAny(presented: string, accepted: readonly string[]): boolean {
  const digest = sha256(presented);
  let match = false;
  for (const candidate of accepted) {
    if (timingSafeEqual(digest, sha256(candidate))) match = true;
  }
  return match;
}

function sha256(value: string): Buffer {
  return createHash('sha256').update(value, 'utf8').digest();
}

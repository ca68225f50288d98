import { HxError } from '../errors.js';
import type { MediaKind } from './probe.js';

/**
 * The one "could not be decoded" error, whichever decoder or header check found the fault, so that a client sees
 * one code and one message shape for every damaged body (docs/operations.md, "Damaged images").
 */
export function undecodable(kind: MediaKind, why: string, cause?: unknown): HxError {
  return new HxError('HX_ERR_MEDIA_UNDECODABLE', `The ${kind.toUpperCase()} image could not be decoded: ${why}`, {
    cause,
  });
}

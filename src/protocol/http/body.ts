import type { IncomingMessage } from 'node:http';
import { HxError } from '../../errors.js';

/**
 * Reads a request body into one exactly-sized ArrayBuffer (so it can be transferred to a worker without a copy),
 * enforcing the byte limit as bytes arrive: a declared Content-Length over the limit is refused before any byte is
 * read, and a chunked body is refused the moment it crosses the limit, so an oversized body is never buffered.
 */
export function readBody(stream: IncomingMessage, maxBytes: number): Promise<Uint8Array> {
  const declared = stream.headers['content-length'];
  const length = declared === undefined ? undefined : Number(declared);
  if (length !== undefined && length > maxBytes) {
    return Promise.reject(tooLarge(maxBytes, `Content-Length ${length}`));
  }
  return new Promise<Uint8Array>((resolve, reject) => {
    // allocUnsafeSlow: an exactly-sized buffer that owns its ArrayBuffer (transferable), not zero-filled (every byte
    // is written before use).
    let buffer: Uint8Array = Buffer.allocUnsafeSlow(length ?? Math.min(maxBytes, 256 * 1024));
    let used = 0;
    const onData = (chunk: Buffer): void => {
      if (used + chunk.length > maxBytes) {
        cleanup();
        stream.pause();
        reject(tooLarge(maxBytes, 'the body'));
        return;
      }
      if (used + chunk.length > buffer.length) {
        const grown = Buffer.allocUnsafeSlow(Math.min(maxBytes, Math.max(buffer.length * 2, used + chunk.length)));
        grown.set(buffer.subarray(0, used));
        buffer = grown;
      }
      buffer.set(chunk, used);
      used += chunk.length;
    };
    const onEnd = (): void => {
      cleanup();
      // Chunked bodies grew in steps; hand over an exact-size buffer so the worker gets exactly the body.
      resolve(used === buffer.length ? buffer : Uint8Array.prototype.slice.call(buffer, 0, used));
    };
    const onError = (error: Error): void => {
      cleanup();
      reject(new HxError('HX_ERR_CLIENT_GONE', 'The request body was interrupted', { cause: error }));
    };
    const onAborted = (): void => onError(new Error('aborted'));
    const cleanup = (): void => {
      stream.off('data', onData);
      stream.off('end', onEnd);
      stream.off('error', onError);
      stream.off('aborted', onAborted);
    };
    stream.on('data', onData);
    stream.on('end', onEnd);
    stream.on('error', onError);
    stream.on('aborted', onAborted);
  });
}

function tooLarge(maxBytes: number, what: string): HxError {
  return new HxError(
    'HX_ERR_LIMIT_BODY_TOO_LARGE',
    `${what} exceeds maxBodyBytes (${maxBytes} bytes): send a smaller frame or raise maxBodyBytes`,
    // Closing the connection stops the rest of the body from being read at all.
    { headers: { connection: 'close' } },
  );
}

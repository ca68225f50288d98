import { randomBytes } from 'node:crypto';
import { closeSync, ftruncateSync, openSync, unlinkSync, writeSync } from 'node:fs';
import { join } from 'node:path';

/** Where POSIX shared memory lives on Linux: what the extension opens by `handle_name`. */
export const SHM_DIR = '/dev/shm';

interface Region {
  offset: number;
  length: number;
  acked: boolean;
}

/**
 * The shared memory file of one gRPC stream, used as a ring: each frame is written at the next free offset (wrapping
 * to 0 when the end has no room) and its region is reclaimed once the extension acked it and every region written
 * before it was acked too. Acks may arrive out of order (servers answer samples in parallel): a region acked early
 * waits for the older ones, so a region is never overwritten while the extension may still read it.
 *
 * The file is created by the runner, sized once (`ftruncate`: tmpfs allocates pages as they are written), written with
 * `pwrite` (no mmap in Node without a native addon; tmpfs makes it one copy) and removed at close.
 */
export class SharedMemoryRing {
  readonly handleName: string;
  readonly path: string;
  private readonly fd: number;
  /** Regions not yet reclaimed, oldest first. */
  private readonly regions: Region[] = [];
  private closed = false;

  constructor(
    prefix: string,
    readonly sizeBytes: number,
  ) {
    // Unique per stream: two pipelines (or a restarted one) never write into a file another stream reads.
    this.handleName = `${prefix.replace(/[^A-Za-z0-9._-]/g, '_').slice(0, 200)}-${randomBytes(6).toString('hex')}`;
    this.path = join(SHM_DIR, this.handleName);
    // Readable by others: the extension may run as another user in its container; frames are not secrets on the box.
    this.fd = openSync(this.path, 'wx+', 0o644);
    try {
      ftruncateSync(this.fd, sizeBytes);
    } catch (error) {
      this.close();
      throw error;
    }
  }

  /** Where a frame of `length` bytes can go now, or undefined when the unacked frames leave no room for it. */
  allocate(length: number): number | undefined {
    if (length > this.sizeBytes || length === 0) return undefined;
    const oldest = this.regions[0];
    const newest = this.regions.at(-1);
    let offset: number | undefined;
    if (oldest === undefined || newest === undefined) {
      offset = 0;
    } else {
      const head = newest.offset + newest.length;
      const tail = oldest.offset;
      if (head > tail) {
        // Free: [head, size) and [0, tail).
        if (this.sizeBytes - head >= length) offset = head;
        else if (tail >= length) offset = 0;
      } else if (tail - head >= length) {
        // Wrapped: free is [head, tail).
        offset = head;
      }
    }
    if (offset !== undefined) this.regions.push({ offset, length, acked: false });
    return offset;
  }

  write(offset: number, bytes: Uint8Array): void {
    let done = 0;
    while (done < bytes.length) done += writeSync(this.fd, bytes, done, bytes.length - done, offset + done);
  }

  /** The extension acked the frame at `offset` (or the stream ended): its region may be reused. */
  release(offset: number): void {
    const region = this.regions.find((r) => r.offset === offset && !r.acked);
    if (region === undefined) return;
    region.acked = true;
    while (this.regions[0]?.acked) this.regions.shift();
  }

  /** Frames written and not yet reclaimed. */
  get pending(): number {
    return this.regions.length;
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    closeSync(this.fd);
    try {
      unlinkSync(this.path);
    } catch {
      // Already gone (someone cleaned /dev/shm): nothing to release.
    }
  }
}

/**
 * The frames a console can show: per stream, the most recent frames with the answers they got. Bounded three ways
 * whatever the frame rate: frames per watched stream, streams, and bytes overall. A stream nobody watches keeps only
 * its last frame (a reference to the request's own bytes: nothing is copied), so an unwatched server pays one
 * pointer per stream.
 */

export interface ConsoleFrame {
  /**
   * Increasing, unique in this process and, in a supervised group, in the group (FrameIds): the frame's address
   * (`/console/api/frames/<id>`).
   */
  id: number;
  stream: string;
  /** The route (server) or node (runner) that answered it. */
  source: string;
  /** Wall-clock milliseconds when the answer was ready. */
  at: number;
  /** What the browser receives the bytes as (image/jpeg, image/png, image/bmp); undefined when it cannot show them. */
  mediaType: string | undefined;
  width: number;
  height: number;
  bytes: Uint8Array;
  /** The answer as sent (`{"inferences":[...]}`), undefined for "no result" or when `drawn`. */
  json: string | undefined;
  /** The bytes are the annotated answer (boxes already drawn), not the frame as received. */
  drawn: boolean;
  /** Announced by another process of the group, which holds its bytes (empty here) if it has any. */
  elsewhere?: { hasImage: boolean } | undefined;
}

/** How ids are handed out: `first`, then every `step`-th number, so that the processes of a group never collide. */
export interface FrameIds {
  first: number;
  step: number;
}

export interface FrameRingLimits {
  /** Frames kept per stream while a viewer watches it. */
  framesPerStream: number;
  /** Streams remembered; the one least recently heard from is forgotten first. */
  maxStreams: number;
  /** Bytes of frames kept overall; the oldest frames go first. */
  maxBytes: number;
}

export const DEFAULT_RING_LIMITS: FrameRingLimits = { framesPerStream: 8, maxStreams: 64, maxBytes: 64 * 1024 * 1024 };

interface Ring {
  frames: ConsoleFrame[];
  watchers: number;
  received: number;
}

export interface StreamSummary {
  stream: string;
  /** Frames received on it since the server started (watched or not). */
  received: number;
  lastAt: number;
  lastSource: string;
  watchers: number;
}

export class FrameRings {
  private readonly rings = new Map<string, Ring>();
  private bytes = 0;
  private nextId: number;

  constructor(
    private readonly limits: FrameRingLimits = DEFAULT_RING_LIMITS,
    private readonly ids: FrameIds = { first: 1, step: 1 },
  ) {
    this.nextId = ids.first;
  }

  /** Records a frame and returns it with its id; frames over the byte budget on their own are kept without bytes. */
  add(frame: Omit<ConsoleFrame, 'id'>): ConsoleFrame {
    const stored: ConsoleFrame = { ...frame, id: this.nextId };
    this.nextId += this.ids.step;
    if (stored.bytes.byteLength > this.limits.maxBytes) stored.bytes = new Uint8Array(0);
    let ring = this.rings.get(frame.stream);
    if (ring === undefined) {
      ring = { frames: [], watchers: 0, received: 0 };
      if (this.rings.size >= this.limits.maxStreams) this.forgetOneStream();
    } else {
      // Map order is insertion order: re-inserting keeps the least recently heard-from stream first.
      this.rings.delete(frame.stream);
    }
    this.rings.set(frame.stream, ring);
    ring.received++;
    ring.frames.push(stored);
    this.bytes += stored.bytes.byteLength;
    const keep = ring.watchers > 0 ? this.limits.framesPerStream : 1;
    while (ring.frames.length > keep) this.drop(ring);
    while (this.bytes > this.limits.maxBytes) this.dropOldest();
    return stored;
  }

  /** A viewer starts watching `stream` (which need not exist yet); returns the function that stops it. */
  watch(stream: string): () => void {
    let ring = this.rings.get(stream);
    if (ring === undefined) {
      if (this.rings.size >= this.limits.maxStreams) this.forgetOneStream();
      ring = { frames: [], watchers: 0, received: 0 };
      this.rings.set(stream, ring);
    }
    const watched = ring;
    watched.watchers++;
    let done = false;
    return () => {
      if (done) return;
      done = true;
      watched.watchers--;
      if (watched.watchers === 0) while (watched.frames.length > 1) this.drop(watched);
    };
  }

  frame(id: number): ConsoleFrame | undefined {
    for (const ring of this.rings.values()) {
      const found = ring.frames.find((f) => f.id === id);
      if (found !== undefined) return found;
    }
    return undefined;
  }

  /** The frames kept for a stream, oldest first. */
  recent(stream: string): readonly ConsoleFrame[] {
    return this.rings.get(stream)?.frames ?? [];
  }

  streams(): StreamSummary[] {
    return [...this.rings]
      .filter(([, ring]) => ring.received > 0)
      .map(([stream, ring]) => {
        const last = ring.frames.at(-1);
        return {
          stream,
          received: ring.received,
          lastAt: last?.at ?? 0,
          lastSource: last?.source ?? '',
          watchers: ring.watchers,
        };
      })
      .reverse();
  }

  /** Bytes of frames held now (for tests and the console's own figures). */
  get heldBytes(): number {
    return this.bytes;
  }

  private drop(ring: Ring): void {
    const gone = ring.frames.shift();
    if (gone !== undefined) this.bytes -= gone.bytes.byteLength;
  }

  private dropOldest(): void {
    let oldest: Ring | undefined;
    for (const ring of this.rings.values()) {
      const first = ring.frames[0];
      if (first !== undefined && (oldest === undefined || first.id < oldest.frames[0]!.id)) oldest = ring;
    }
    if (oldest === undefined) return;
    this.drop(oldest);
  }

  /** Forgets the least recently heard-from stream nobody watches (or, if all are watched, the least recent). */
  private forgetOneStream(): void {
    let victim: string | undefined;
    for (const [stream, ring] of this.rings) {
      if (ring.watchers === 0) {
        victim = stream;
        break;
      }
      victim ??= stream;
    }
    if (victim === undefined) return;
    for (const frame of this.rings.get(victim)!.frames) this.bytes -= frame.bytes.byteLength;
    this.rings.delete(victim);
  }
}

import type { MediaItem, RuntimeNode } from '../graph.js';
import type { AccessUnit } from '../mpegts.js';
import type { GateSpec } from '../node-specs.js';

/** Media kept beyond the offset and the evaluation window: decoded frames (and so events) trail the packets. */
const LAG_MARGIN_MS = 5000;
/** Hard cap on the pre-roll buffer, whatever the bit rate. */
const MAX_BUFFER_BYTES = 64 * 1024 * 1024;

interface Activation {
  /** Media time (90 kHz) of the earliest event, the start and end of what passes, and the cap from the first event. */
  first: number;
  start: number;
  end: number;
  cap: number;
  /** Packet clock at which the evaluation window is over. */
  evaluateUntil: number;
}

const ms90k = (ms: number) => (ms * 90_000) / 1000;

/**
 * `SignalGateProcessor`: lets the media input (compressed packets from the source) through while it is open. Any event
 * on an event input opens it; the activation starts at the earliest event seen within `activationEvaluationWindow`
 * plus `activationSignalOffset` (negative: pre-roll from a bounded buffer of recent packets), stays open until
 * `minimumActivationTime` after the latest event and never beyond `maximumActivationTime` after the first. Every time
 * is media time (the 90 kHz presentation clock), so a file gives the same activations played live or as fast as
 * possible. What passes starts at a keyframe (the last one at or before the activation start), so it plays.
 */
export class SignalGateNode implements RuntimeNode {
  private state: 'closed' | 'evaluating' | 'open' = 'closed';
  private activation: Activation | undefined;
  /** An event after the cap of the open activation: it starts the next one. */
  private deferred: number | undefined;
  private buffer: AccessUnit[] = [];
  private bufferBytes = 0;
  private header: Buffer = Buffer.alloc(0);
  private clock = Number.NEGATIVE_INFINITY;
  private warnedCap = false;
  /** Opened activations (for tests and totals). */
  activations = 0;

  /** Packets held for pre-roll (bounded: see `hold`). */
  status(): string {
    return `${this.name} ${this.state}`;
  }

  get bufferedPackets(): number {
    return this.buffer.length;
  }

  constructor(
    readonly name: string,
    private readonly spec: GateSpec,
    private readonly emit: (item: MediaItem) => Promise<void>,
    private readonly notice: (message: string) => void,
    /** Wall-clock time (ms since the epoch) of media time 0: recordings are named after their media start. */
    private readonly originMs: () => number,
  ) {}

  async receive(item: MediaItem): Promise<void> {
    if (item.kind === 'event') await this.onEvent(item.event.pts90k, item);
    else if (item.kind === 'packet') await this.onPacket(item.packet, item.header);
  }

  async end(): Promise<void> {
    if (this.state === 'evaluating') await this.open();
    if (this.state === 'open') await this.close();
  }

  private async onEvent(t: number, item: MediaItem): Promise<void> {
    const s = this.spec;
    const a = this.activation;
    if (this.state === 'closed' || a === undefined) {
      this.begin(t);
      if (s.activationEvaluationWindowMs === 0) await this.open();
      return;
    }
    if (this.state === 'evaluating') {
      if (t < a.first) {
        a.first = t;
        a.cap = t + ms90k(s.maximumActivationTimeMs);
      }
      a.start = Math.min(a.start, t + ms90k(s.activationSignalOffsetMs));
      a.end = Math.min(a.cap, Math.max(a.end, t + ms90k(s.minimumActivationTimeMs)));
      return;
    }
    if (t >= a.cap) {
      this.deferred = this.deferred === undefined ? t : Math.min(this.deferred, t);
      return;
    }
    a.end = Math.min(a.cap, Math.max(a.end, t + ms90k(s.minimumActivationTimeMs)));
    await this.emit(item);
  }

  private begin(t: number): void {
    const s = this.spec;
    this.state = 'evaluating';
    this.activation = {
      first: t,
      start: t + ms90k(s.activationSignalOffsetMs),
      end: t + ms90k(s.minimumActivationTimeMs),
      cap: t + ms90k(s.maximumActivationTimeMs),
      evaluateUntil:
        (Number.isFinite(this.clock) ? Math.max(this.clock, t) : t) + ms90k(s.activationEvaluationWindowMs),
    };
    this.activation.end = Math.min(this.activation.end, this.activation.cap);
  }

  private async onPacket(packet: AccessUnit, header: Buffer): Promise<void> {
    this.header = header;
    this.clock = Math.max(this.clock, packet.pts90k);
    if (this.state === 'open') {
      const a = this.activation!;
      if (packet.pts90k >= a.end) {
        await this.close();
        this.hold(packet);
        if (this.deferred !== undefined) {
          const t = this.deferred;
          this.deferred = undefined;
          this.begin(t);
        }
      } else {
        await this.emit({ kind: 'packet', packet, header });
        return;
      }
    } else {
      this.hold(packet);
    }
    // A positive offset also waits for the media at the start, so that the keyframe before it is held.
    const a = this.activation;
    if (this.state === 'evaluating' && this.clock >= a!.evaluateUntil && this.clock >= a!.start) await this.open();
  }

  private async open(): Promise<void> {
    const a = this.activation!;
    // Start at the last keyframe at or before the activation start; without one, at the first keyframe held.
    let from = -1;
    for (let i = 0; i < this.buffer.length; i++) {
      const p = this.buffer[i]!;
      if (!p.key) continue;
      if (p.pts90k <= a.start || from === -1) from = i;
      if (p.pts90k > a.start) break;
    }
    const held = from === -1 ? [] : this.buffer.slice(from);
    this.buffer = [];
    this.bufferBytes = 0;
    this.state = 'open';
    this.activations++;
    const startPts = held[0]?.pts90k ?? a.start;
    // Media time, not the wall clock: a file played as fast as possible still gets one name per recorded second.
    const startedAt = new Date(this.originMs() + (startPts * 1000) / 90_000);
    await this.emit({ kind: 'segment', phase: 'start', header: this.header, startedAt });
    for (const packet of held) {
      if (packet.pts90k >= a.end && packet.key) break;
      await this.emit({ kind: 'packet', packet, header: this.header });
    }
  }

  private async close(): Promise<void> {
    this.state = 'closed';
    this.activation = undefined;
    await this.emit({ kind: 'segment', phase: 'end' });
  }

  /** Keeps recent packets for pre-roll: from a keyframe at or before the horizon, and within the byte cap. */
  private hold(packet: AccessUnit): void {
    if (this.buffer.length === 0 && !packet.key) return; // a clip cannot start before the next keyframe anyway
    this.buffer.push(packet);
    this.bufferBytes += packet.data.length;
    if (this.state === 'evaluating') {
      // A late event within the window may still move the start back: only the byte cap applies meanwhile.
      this.trim(Number.NEGATIVE_INFINITY);
      return;
    }
    const horizon =
      this.clock -
      ms90k(Math.max(0, -this.spec.activationSignalOffsetMs) + this.spec.activationEvaluationWindowMs + LAG_MARGIN_MS);
    this.trim(horizon);
  }

  /** Drops whole groups of pictures from the front while the next keyframe is still at or before `horizon`. */
  private trim(horizon: number): void {
    for (;;) {
      const next = this.buffer.findIndex((p, i) => i > 0 && p.key);
      if (next === -1) break;
      const overCap = this.bufferBytes > MAX_BUFFER_BYTES;
      if (!overCap && this.buffer[next]!.pts90k > horizon) break;
      if (overCap && !this.warnedCap) {
        this.warnedCap = true;
        this.notice(`${this.name}: pre-roll buffer over ${MAX_BUFFER_BYTES / 1024 / 1024} MiB: oldest media dropped`);
      }
      for (const p of this.buffer.splice(0, next)) this.bufferBytes -= p.data.length;
    }
  }
}

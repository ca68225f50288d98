/**
 * Just enough MPEG-TS (ISO/IEC 13818-1) to carry a camera's compressed video through the runner without re-encoding
 * it: ffmpeg stream-copies the source's video into a transport stream on a pipe; this splits it into access units
 * (one PES packet each) with their PTS, DTS and keyframe flag, and keeps the raw 188-byte packets so that a recording
 * is the same bytes fed back to ffmpeg (behind the PAT and PMT) to be muxed into MP4.
 */

export interface AccessUnit {
  /** On the source's 90 kHz clock, the same one decoded frames carry. */
  pts90k: number;
  dts90k: number;
  /** A random access point (ffmpeg's muxer flags each keyframe): a recording may start here. */
  key: boolean;
  /** The transport packets that carry it, back to back. */
  data: Buffer;
}

const PACKET = 188;
const WRAP = 2 ** 33;

/** ffmpeg writes negative timestamps (B-frame delay before 0) modulo 2^33: read them back as negative. */
function timestamp(b: Buffer, at: number): number {
  const v =
    ((b[at]! >> 1) & 0x07) * 2 ** 30 +
    (b[at + 1]! << 22) +
    ((b[at + 2]! >> 1) << 15) +
    (b[at + 3]! << 7) +
    (b[at + 4]! >> 1);
  return v >= 2 ** 32 ? v - WRAP : v;
}

export class TsDemuxer {
  private rest: Buffer = Buffer.alloc(0);
  private pmtPid: number | undefined;
  private videoPid: number | undefined;
  private pat: Buffer | undefined;
  private pmt: Buffer | undefined;
  private current: { pts90k: number; dts90k: number; key: boolean; packets: Buffer[] } | undefined;

  /** The PAT and PMT a recording must start with (undefined until both were seen). */
  header(): Buffer | undefined {
    return this.pat && this.pmt ? Buffer.concat([this.pat, this.pmt]) : undefined;
  }

  /** Feeds bytes; returns the access units completed by them (a unit is complete when the next one starts). */
  push(chunk: Buffer): AccessUnit[] {
    const data = this.rest.length > 0 ? Buffer.concat([this.rest, chunk]) : chunk;
    const out: AccessUnit[] = [];
    let at = 0;
    while (data.length - at >= PACKET) {
      if (data[at] !== 0x47) {
        // Lost sync (should not happen on a pipe): skip to the next sync byte.
        at++;
        continue;
      }
      this.packet(Buffer.from(data.subarray(at, at + PACKET)), out);
      at += PACKET;
    }
    this.rest = Buffer.from(data.subarray(at));
    return out;
  }

  /** The last access unit (nothing follows it to complete it). */
  flush(): AccessUnit[] {
    const unit = this.finish();
    return unit ? [unit] : [];
  }

  private finish(): AccessUnit | undefined {
    const c = this.current;
    this.current = undefined;
    if (c === undefined) return undefined;
    return { pts90k: c.pts90k, dts90k: c.dts90k, key: c.key, data: Buffer.concat(c.packets) };
  }

  private packet(p: Buffer, out: AccessUnit[]): void {
    const start = (p[1]! & 0x40) !== 0;
    const pid = ((p[1]! & 0x1f) << 8) | p[2]!;
    const control = (p[3]! >> 4) & 0x3;
    let payload = 4;
    let randomAccess = false;
    if (control & 0x2) {
      const length = p[4]!;
      if (length > 0) randomAccess = (p[5]! & 0x40) !== 0;
      payload = 5 + length;
    }
    if (!(control & 0x1) || payload >= PACKET) {
      if (pid === this.videoPid && this.current) this.current.packets.push(p);
      return;
    }
    if (pid === 0 && start) {
      this.pat = p;
      const section = payload + 1 + p[payload]!; // pointer field
      // First program of the PAT (ffmpeg writes one): program number, then its PMT PID.
      this.pmtPid = ((p[section + 10]! & 0x1f) << 8) | p[section + 11]!;
      return;
    }
    if (pid === this.pmtPid && start) {
      this.pmt = p;
      const section = payload + 1 + p[payload]!;
      const sectionLength = ((p[section + 1]! & 0x0f) << 8) | p[section + 2]!;
      const infoLength = ((p[section + 10]! & 0x0f) << 8) | p[section + 11]!;
      let i = section + 12 + infoLength;
      const end = Math.min(PACKET, section + 3 + sectionLength - 4);
      while (i + 5 <= end) {
        const streamType = p[i]!;
        const esPid = ((p[i + 1]! & 0x1f) << 8) | p[i + 2]!;
        // H.264 (0x1b), H.265 (0x24), MPEG-2/4 video: the runner maps only the source's first video stream.
        if (this.videoPid === undefined && [0x01, 0x02, 0x10, 0x1b, 0x24].includes(streamType)) this.videoPid = esPid;
        i += 5 + (((p[i + 3]! & 0x0f) << 8) | p[i + 4]!);
      }
      return;
    }
    if (pid !== this.videoPid) return;
    if (!start) {
      this.current?.packets.push(p);
      return;
    }
    const unit = this.finish();
    if (unit) out.push(unit);
    // PES header: 00 00 01, stream id, length(2), flags(2), header length, then PTS [DTS].
    const flags = p[payload + 7]!;
    const pts = flags & 0x80 ? timestamp(p, payload + 9) : (unit?.pts90k ?? 0);
    const dts = flags & 0x40 ? timestamp(p, payload + 14) : pts;
    this.current = { pts90k: pts, dts90k: dts, key: randomAccess, packets: [p] };
  }
}

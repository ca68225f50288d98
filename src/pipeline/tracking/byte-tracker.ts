import { randomUUID } from 'node:crypto';
import { type Assignment, greedy, hungarian } from './assignment.js';
import { type Box, buffered, clipped, iou, KalmanBox, TICKS_PER_STEP } from './kalman-box.js';

/**
 * A ByteTrack multi-object tracker (Zhang et al., "ByteTrack: Multi-Object Tracking by Associating Every Detection
 * Box", ECCV 2022) over a SORT core (Kalman filter on each box, IoU association). Detections come sparsely (when the
 * extension analysed a frame); every frame the tracker receives moves the tracks forward, so each frame has boxes.
 *
 * On a detector answer: (1) confident detections are matched to tracked and lost tracks by IoU; (2) the remaining
 * tracked tracks get a second chance with the low-confidence detections (an occluded object scores low, and that is
 * when a tracker most needs it); (3) at high accuracy, lost tracks get a third chance on buffered boxes (C-BIoU: a
 * fast object moved further than IoU can bridge); (4) tentative tracks (seen once) are matched or dropped; (5)
 * confident leftovers start tentative tracks. A track is reported once confirmed (two hits, or one on the very
 * first answer) and gets its id then; ids are never reused. A track unmatched on an answer is lost (not reported)
 * and removed after the lost buffer. Matching is only within one label (a car never continues a person's track).
 */

export type Accuracy = 'low' | 'medium' | 'high';

export interface Detection {
  box: Box;
  score: number;
  label: string;
}

interface Tuning {
  matcher: (cost: readonly (readonly number[])[], columns: number, maxCost: number) => Assignment;
  /** Second stage with low-confidence detections (ByteTrack's "BYTE"). */
  lowStage: boolean;
  /** Third stage: lost tracks against leftover confident detections on boxes grown by this ratio (0: none). */
  bufferRatio: number;
  /** A lost track is removed after this much media time without a match. */
  lostBufferTicks: number;
}

/**
 * The vendor said only that higher accuracy costs more CPU. low: greedy IoU matching of confident detections only
 * (SORT). medium: optimal (Hungarian) matching and ByteTrack's low-score stage. high: medium plus the buffered-IoU
 * recovery of lost tracks and a longer memory of lost tracks.
 */
const TUNING: Record<Accuracy, Tuning> = {
  low: { matcher: greedy, lowStage: false, bufferRatio: 0, lostBufferTicks: 90_000 },
  medium: { matcher: hungarian, lowStage: true, bufferRatio: 0, lostBufferTicks: 2 * 90_000 },
  high: { matcher: hungarian, lowStage: true, bufferRatio: 0.3, lostBufferTicks: 3 * 90_000 },
};

/** ByteTrack's defaults: detections at 0.5 and above are confident, 0.1..0.5 low; first-stage IoU >= 0.2. */
const HIGH_SCORE = 0.5;
const LOW_SCORE = 0.1;
const FIRST_MAX_COST = 0.8;
const SECOND_MAX_COST = 0.5;
const TENTATIVE_MAX_COST = 0.7;
/** Without word of an answer (live mode, an empty answer), a track not matched for this long is lost anyway. */
const COAST_TICKS = 90_000;

type State = 'tentative' | 'tracked' | 'lost';

export interface Track {
  /** Set when confirmed: a per-pipeline counter ("1", "2", ...), never reused. */
  id: string;
  /** 32 hex digits, as the vendor's sequenceIds looked. */
  sequenceId: string;
  label: string;
  /** The confidence of the last detection it matched (the vendor repeated the detector's). */
  score: number;
  box: Box;
}

class TrackState {
  readonly filter: KalmanBox;
  state: State = 'tentative';
  id = '';
  sequenceId = '';
  lastMatch: number;
  score: number;

  constructor(
    readonly label: string,
    detection: Detection,
    pts90k: number,
  ) {
    this.filter = new KalmanBox(detection.box);
    this.lastMatch = pts90k;
    this.score = detection.score;
  }

  hit(detection: Detection, pts90k: number): void {
    this.filter.update(detection.box);
    this.lastMatch = pts90k;
    this.score = detection.score;
  }
}

export class ByteTracker {
  private tracks: TrackState[] = [];
  private nextId = 1;
  private clock: number | undefined;
  private answers = 0;
  private readonly tuning: Tuning;

  constructor(accuracy: Accuracy = 'medium') {
    this.tuning = TUNING[accuracy];
  }

  /** Moves every track to the frame at `pts90k` (a frame the tracker received, analysed or not). */
  advance(pts90k: number): void {
    if (this.clock !== undefined && pts90k > this.clock) {
      const steps = (pts90k - this.clock) / TICKS_PER_STEP;
      for (const track of this.tracks) track.filter.predict(steps);
    }
    if (this.clock === undefined || pts90k > this.clock) this.clock = pts90k;
    for (const track of this.tracks) {
      if (track.state === 'tracked' && pts90k - track.lastMatch > COAST_TICKS) this.lose(track);
    }
    this.tracks = this.tracks.filter(
      (t) =>
        !(t.state === 'lost' && pts90k - t.lastMatch > this.tuning.lostBufferTicks) &&
        !(t.state === 'tentative' && pts90k - t.lastMatch > COAST_TICKS),
    );
  }

  /** A detector's answer for the current frame (call `advance` first). An empty list is an answer too. */
  update(detections: readonly Detection[]): void {
    const now = this.clock ?? 0;
    const high = detections.filter((d) => d.score >= HIGH_SCORE);
    const low = detections.filter((d) => d.score >= LOW_SCORE && d.score < HIGH_SCORE);
    const confirmed = this.tracks.filter((t) => t.state !== 'tentative');
    const tentative = this.tracks.filter((t) => t.state === 'tentative');

    // (1) confident detections against tracked and lost tracks.
    const first = this.match(confirmed, high, FIRST_MAX_COST, 0);
    for (const [i, j] of first.matches) this.hitTrack(confirmed[i]!, high[j]!, now);
    let leftTracks = first.unmatchedRows.map((i) => confirmed[i]!);
    let leftHigh = first.unmatchedColumns.map((j) => high[j]!);

    // (2) low-confidence detections against the tracks still unmatched that were being tracked.
    if (this.tuning.lowStage) {
      const tracked = leftTracks.filter((t) => t.state === 'tracked');
      const second = this.match(tracked, low, SECOND_MAX_COST, 0);
      for (const [i, j] of second.matches) this.hitTrack(tracked[i]!, low[j]!, now);
      const matched = new Set(second.matches.map(([i]) => tracked[i]!));
      leftTracks = leftTracks.filter((t) => !matched.has(t));
    }

    // (3) buffered IoU for what is still unmatched (a jump larger than the box between two answers).
    if (this.tuning.bufferRatio > 0 && leftTracks.length > 0 && leftHigh.length > 0) {
      const third = this.match(leftTracks, leftHigh, FIRST_MAX_COST, this.tuning.bufferRatio);
      for (const [i, j] of third.matches) this.hitTrack(leftTracks[i]!, leftHigh[j]!, now);
      const matchedTracks = new Set(third.matches.map(([i]) => leftTracks[i]!));
      const matchedDetections = new Set(third.matches.map(([, j]) => leftHigh[j]!));
      leftTracks = leftTracks.filter((t) => !matchedTracks.has(t));
      leftHigh = leftHigh.filter((d) => !matchedDetections.has(d));
    }
    for (const track of leftTracks) if (track.state === 'tracked') this.lose(track);

    // (4) tentative tracks: confirmed by a second hit, else dropped.
    const fourth = this.match(tentative, leftHigh, TENTATIVE_MAX_COST, 0);
    for (const [i, j] of fourth.matches) {
      const track = tentative[i]!;
      track.hit(leftHigh[j]!, now);
      this.confirm(track);
    }
    const dropped = new Set(fourth.unmatchedRows.map((i) => tentative[i]!));
    this.tracks = this.tracks.filter((t) => !dropped.has(t));

    // (5) new tentative tracks; on the first answer they are confirmed at once (nothing to confirm them against).
    const firstAnswer = this.answers === 0;
    for (const j of fourth.unmatchedColumns) {
      const track = new TrackState(leftHigh[j]!.label, leftHigh[j]!, now);
      if (firstAnswer) this.confirm(track);
      this.tracks.push(track);
    }
    this.answers++;
  }

  /** The tracks to report for the current frame: confirmed and matched recently, boxes clipped to the image. */
  active(): Track[] {
    const out: Track[] = [];
    for (const t of this.tracks) {
      if (t.state !== 'tracked') continue;
      const box = clipped(t.filter.box());
      if (box === undefined) continue;
      out.push({ id: t.id, sequenceId: t.sequenceId, label: t.label, score: t.score, box });
    }
    return out;
  }

  /** Tracks held (every state): bounded by what the detector reports within the lost buffer. */
  get size(): number {
    return this.tracks.length;
  }

  private hitTrack(track: TrackState, detection: Detection, now: number): void {
    track.hit(detection, now);
    track.state = 'tracked';
  }

  private confirm(track: TrackState): void {
    track.state = 'tracked';
    track.id = String(this.nextId++);
    track.sequenceId = randomUUID().replaceAll('-', '');
  }

  private lose(track: TrackState): void {
    track.state = 'lost';
    track.filter.freezeSize();
  }

  /** IoU cost (1 - IoU) of every track against every detection; pairs of different labels are forbidden. */
  private match(
    tracks: readonly TrackState[],
    detections: readonly Detection[],
    maxCost: number,
    bufferRatio: number,
  ): Assignment {
    const boxes = tracks.map((t) => (bufferRatio > 0 ? buffered(t.filter.box(), bufferRatio) : t.filter.box()));
    const cost = tracks.map((t, i) =>
      detections.map((d) => {
        if (d.label !== t.label) return Number.POSITIVE_INFINITY;
        return 1 - iou(boxes[i]!, bufferRatio > 0 ? buffered(d.box, bufferRatio) : d.box);
      }),
    );
    return this.tuning.matcher(cost, detections.length, maxCost);
  }
}

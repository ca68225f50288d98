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
 * when a tracker most needs it), by IoU and then by motion as in (3); (3) what is still unmatched is matched on motion: the Kalman filter's Mahalanobis
 * distance, gated at the chi-square 95% point (DeepSORT's gate), because at the vendor's 2 answers a second a
 * walking person moves more than their own width between answers and IoU is then 0 (at high accuracy, buffered
 * boxes (C-BIoU) are tried first); (4) tentative tracks (seen once) are matched the same two ways, or dropped; (5)
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
  /** Third stage: leftover confident detections matched on motion (Mahalanobis-gated). */
  motionStage: boolean;
  /** Before it: leftover confident detections on boxes grown by this ratio (0: none). */
  bufferRatio: number;
  /** A lost track is removed after this much media time without a match. */
  lostBufferTicks: number;
}

/**
 * The vendor said only that higher accuracy costs more CPU. low: greedy IoU matching of confident detections only
 * (SORT: enough when the extension sees most frames). medium: optimal (Hungarian) matching, ByteTrack's low-score
 * stage and the motion stage. high: medium plus buffered-IoU matching and a longer memory of lost tracks.
 */
const TUNING: Record<Accuracy, Tuning> = {
  low: { matcher: greedy, lowStage: false, motionStage: false, bufferRatio: 0, lostBufferTicks: 90_000 },
  medium: { matcher: hungarian, lowStage: true, motionStage: true, bufferRatio: 0, lostBufferTicks: 2 * 90_000 },
  high: { matcher: hungarian, lowStage: true, motionStage: true, bufferRatio: 0.3, lostBufferTicks: 3 * 90_000 },
};

/** ByteTrack's defaults: detections at 0.5 and above are confident, 0.1..0.5 low; first-stage IoU >= 0.2. */
const HIGH_SCORE = 0.5;
const LOW_SCORE = 0.1;
const FIRST_MAX_COST = 0.8;
const SECOND_MAX_COST = 0.5;
const TENTATIVE_MAX_COST = 0.7;
/** Chi-square 95% point for 4 degrees of freedom (DeepSORT's gate). */
const MOTION_GATE = 9.4877;
/** And never further than this many box sizes from the prediction, however uncertain it has become. */
const MOTION_REACH = 2;
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

    const hit = (track: TrackState, detection: Detection) => this.hitTrack(track, detection, now);
    // (1) confident detections against tracked and lost tracks.
    let [leftTracks, leftHigh] = this.stage(confirmed, high, iouCost, FIRST_MAX_COST, hit);

    // (2) low-confidence detections against the tracks still unmatched that were being tracked.
    if (this.tuning.lowStage) {
      let [leftTracked, leftLow] = this.stage(
        leftTracks.filter((t) => t.state === 'tracked'),
        low,
        iouCost,
        SECOND_MAX_COST,
        hit,
      );
      if (this.tuning.motionStage) [leftTracked] = this.stage(leftTracked, leftLow, motionCost, MOTION_GATE, hit);
      const still = new Set(leftTracked);
      leftTracks = leftTracks.filter((t) => t.state === 'lost' || still.has(t));
    }

    // (3) buffered IoU, then motion, for what is still unmatched (a jump larger than the box between two answers).
    if (this.tuning.bufferRatio > 0) {
      [leftTracks, leftHigh] = this.stage(
        leftTracks,
        leftHigh,
        (t, d) => this.bufferedCost(t, d),
        FIRST_MAX_COST,
        (t, d) => this.hitTrack(t, d, now),
      );
    }
    if (this.tuning.motionStage) {
      [leftTracks, leftHigh] = this.stage(leftTracks, leftHigh, motionCost, MOTION_GATE, (t, d) =>
        this.hitTrack(t, d, now),
      );
    }
    for (const track of leftTracks) if (track.state === 'tracked') this.lose(track);

    // (4) tentative tracks: confirmed by a second hit, else dropped.
    const confirmHit = (track: TrackState, detection: Detection) => {
      track.hit(detection, now);
      this.confirm(track);
    };
    let leftTentative: TrackState[];
    [leftTentative, leftHigh] = this.stage(tentative, leftHigh, iouCost, TENTATIVE_MAX_COST, confirmHit);
    if (this.tuning.motionStage) {
      [leftTentative, leftHigh] = this.stage(leftTentative, leftHigh, motionCost, MOTION_GATE, confirmHit);
    }
    const dropped = new Set(leftTentative);
    this.tracks = this.tracks.filter((t) => !dropped.has(t));

    // (5) new tentative tracks; on the first answer they are confirmed at once (nothing to confirm them against).
    const firstAnswer = this.answers === 0;
    for (const detection of leftHigh) {
      const track = new TrackState(detection.label, detection, now);
      if (firstAnswer) this.confirm(track);
      this.tracks.push(track);
    }
    this.answers++;
  }

  /** One association stage: matches by `cost` (same label only), applies `onMatch`, returns what is left of each. */
  private stage(
    tracks: readonly TrackState[],
    detections: readonly Detection[],
    cost: (track: TrackState, detection: Detection) => number,
    maxCost: number,
    onMatch: (track: TrackState, detection: Detection) => void,
  ): [TrackState[], Detection[]] {
    if (tracks.length === 0 || detections.length === 0) return [[...tracks], [...detections]];
    const matrix = tracks.map((t) =>
      detections.map((d) => (d.label === t.label ? cost(t, d) : Number.POSITIVE_INFINITY)),
    );
    const result = this.tuning.matcher(matrix, detections.length, maxCost);
    for (const [i, j] of result.matches) onMatch(tracks[i]!, detections[j]!);
    return [result.unmatchedRows.map((i) => tracks[i]!), result.unmatchedColumns.map((j) => detections[j]!)];
  }

  private bufferedCost(track: TrackState, detection: Detection): number {
    return (
      1 - iou(buffered(track.filter.box(), this.tuning.bufferRatio), buffered(detection.box, this.tuning.bufferRatio))
    );
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
}

function iouCost(track: TrackState, detection: Detection): number {
  return 1 - iou(track.filter.box(), detection.box);
}

/** Mahalanobis distance from the prediction, or out of the gate when further than MOTION_REACH box sizes. */
function motionCost(track: TrackState, detection: Detection): number {
  const p = track.filter.box();
  const d = detection.box;
  const dx = Math.abs(p.l + p.w / 2 - (d.l + d.w / 2));
  const dy = Math.abs(p.t + p.h / 2 - (d.t + d.h / 2));
  if (dx > MOTION_REACH * Math.max(p.w, d.w) || dy > MOTION_REACH * Math.max(p.h, d.h)) return Number.POSITIVE_INFINITY;
  return track.filter.mahalanobis(d);
}

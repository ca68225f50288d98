import { hungarian } from '../../src/pipeline/tracking/assignment.js';
import { iou } from '../../src/pipeline/tracking/kalman-box.js';

/**
 * CLEAR-MOT (Bernardin & Stiefelhagen 2008) and identity (Ristani et al. 2016) scores of a tracker's output against
 * ground truth, as MOTChallenge computes them: a hypothesis matches a truth box at IoU >= 0.5; correspondences from
 * the previous frame are kept while they still match; an identity switch is a truth object matched to a different
 * track id than last time; a fragmentation is a truth trajectory that stops being tracked and is tracked again.
 */

export interface Box {
  l: number;
  t: number;
  w: number;
  h: number;
}

export interface Labelled {
  id: string;
  box: Box;
}

export interface MotScores {
  frames: number;
  truths: number;
  hypotheses: number;
  matches: number;
  falseNegatives: number;
  falsePositives: number;
  idSwitches: number;
  fragmentations: number;
  mota: number;
  idf1: number;
  /** Distinct track ids the tracker gave. */
  trackIds: number;
}

const MIN_IOU = 0.5;

export function motScores(truth: readonly Labelled[][], hypotheses: readonly Labelled[][]): MotScores {
  let truths = 0;
  let hyps = 0;
  let matches = 0;
  let idSwitches = 0;
  let fragmentations = 0;
  const last = new Map<string, string>(); // truth id -> the track id it last matched
  const trackedBefore = new Map<string, boolean>(); // truth id -> tracked in its previous visible frame
  const pairFrames = new Map<string, number>(); // "truth\u0000track" -> frames matched (for IDF1)
  const truthFrames = new Map<string, number>();
  const hypFrames = new Map<string, number>();
  const frames = Math.max(truth.length, hypotheses.length);
  for (let f = 0; f < frames; f++) {
    const gt = truth[f] ?? [];
    const hy = hypotheses[f] ?? [];
    truths += gt.length;
    hyps += hy.length;
    for (const g of gt) truthFrames.set(g.id, (truthFrames.get(g.id) ?? 0) + 1);
    for (const h of hy) hypFrames.set(h.id, (hypFrames.get(h.id) ?? 0) + 1);
    // IDF1 counts every IoU-matching pair per frame, on an optimal one-to-one matching within the frame.
    const frameCost = gt.map((g) => hy.map((h) => (iou(g.box, h.box) >= MIN_IOU ? 1 - iou(g.box, h.box) : Infinity)));
    for (const [i, j] of hungarian(frameCost, hy.length, 1 - MIN_IOU).matches) {
      const key = `${gt[i]!.id}\u0000${hy[j]!.id}`;
      pairFrames.set(key, (pairFrames.get(key) ?? 0) + 1);
    }
    // CLEAR-MOT: keep last frame's correspondences that still hold, then match the rest.
    const matched = new Map<number, number>();
    gt.forEach((g, i) => {
      const previous = last.get(g.id);
      const j = hy.findIndex((h) => h.id === previous);
      if (j >= 0 && iou(g.box, hy[j]!.box) >= MIN_IOU) matched.set(i, j);
    });
    const freeGt = gt.map((_, i) => i).filter((i) => !matched.has(i));
    const usedHy = new Set(matched.values());
    const freeHy = hy.map((_, j) => j).filter((j) => !usedHy.has(j));
    const cost = freeGt.map((i) => freeHy.map((j) => frameCost[i]![j]!));
    for (const [a, b] of hungarian(cost, freeHy.length, 1 - MIN_IOU).matches) {
      const i = freeGt[a]!;
      const j = freeHy[b]!;
      const previous = last.get(gt[i]!.id);
      if (previous !== undefined && previous !== hy[j]!.id) idSwitches++;
      matched.set(i, j);
    }
    matches += matched.size;
    gt.forEach((g, i) => {
      const j = matched.get(i);
      const tracked = j !== undefined;
      if (tracked) {
        if (trackedBefore.get(g.id) === false) fragmentations++;
        last.set(g.id, hy[j]!.id);
      }
      if (tracked || trackedBefore.has(g.id)) trackedBefore.set(g.id, tracked);
    });
  }
  // IDF1: one track per truth object at most (optimal, by frames matched).
  const gtIds = [...truthFrames.keys()];
  const hyIds = [...hypFrames.keys()];
  const idCost = gtIds.map((g) => hyIds.map((h) => -(pairFrames.get(`${g}\u0000${h}`) ?? 0)));
  let idtp = 0;
  for (const [i, j] of hungarian(idCost, hyIds.length, 0).matches) idtp -= idCost[i]![j]!;
  const falseNegatives = truths - matches;
  const falsePositives = hyps - matches;
  return {
    frames,
    truths,
    hypotheses: hyps,
    matches,
    falseNegatives,
    falsePositives,
    idSwitches,
    fragmentations,
    mota: truths === 0 ? 0 : 1 - (falseNegatives + falsePositives + idSwitches) / truths,
    idf1: truths + hyps === 0 ? 0 : (2 * idtp) / (truths + hyps),
    trackIds: hyIds.length,
  };
}

import type { OutputTensor } from './decoder.js';

export interface ClassScore {
  classIndex: number;
  score: number;
}

/**
 * A classifier's output [1, C] (or [C]): scores, or logits turned into probabilities by softmax. Returns the `topK`
 * best classes scoring at least `minConfidence`, best first.
 */
export function decodeClassification(
  output: OutputTensor,
  options: { softmax: boolean; topK: number; minConfidence: number },
): ClassScore[] {
  const raw = output.data;
  let scores: Float64Array = Float64Array.from(raw);
  if (options.softmax) {
    const max = Math.max(...scores);
    const exps = scores.map((v) => Math.exp(v - max));
    const sum = exps.reduce((a, b) => a + b, 0);
    scores = exps.map((v) => v / sum);
  }
  return Array.from(scores, (score, classIndex) => ({ classIndex, score }))
    .filter((c) => c.score >= options.minConfidence)
    .sort((a, b) => b.score - a.score)
    .slice(0, options.topK);
}

/** CTC greedy decoding of PaddleOCR's recogniser output [1, T, classes] (softmax probabilities). */

export interface RecognisedText {
  text: string;
  /** Mean probability of the characters kept. */
  confidence: number;
}

/**
 * Best class per time step; repeats collapse and the blank (class 0) separates characters. Class k >= 1 is
 * `dictionary[k - 1]` (PaddleOCR's dictionary file, plus the space it appends as the last class).
 */
export function ctcDecode(
  probabilities: Float32Array,
  steps: number,
  classes: number,
  dictionary: readonly string[],
): RecognisedText {
  let text = '';
  let sum = 0;
  let kept = 0;
  let previous = -1;
  for (let t = 0; t < steps; t++) {
    const o = t * classes;
    let best = 0;
    let p = probabilities[o]!;
    for (let c = 1; c < classes; c++) {
      const v = probabilities[o + c]!;
      if (v > p) {
        p = v;
        best = c;
      }
    }
    if (best !== 0 && best !== previous) {
      text += dictionary[best - 1] ?? '';
      sum += p;
      kept++;
    }
    previous = best;
  }
  return { text: text.trim(), confidence: kept === 0 ? 0 : sum / kept };
}

/** BCP-47 tag of a recognised string: the model reads Chinese and Latin script. */
export function languageOf(text: string): string {
  if (/[\u3400-\u9fff\uf900-\ufaff]/.test(text)) return 'zh';
  if (/[A-Za-z]/.test(text)) return 'en';
  return 'und';
}

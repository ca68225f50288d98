import { HxError } from '../errors.js';
import type { Inference } from '../schema/inference.js';

/**
 * The vendor samples' query filters, applied to any processor's output: `?confidence=0.5` keeps tagged inferences
 * scoring at least 0.5, `?object=person,car` keeps tagged inferences with one of these values (case-insensitive).
 * Each applies on its own (the vendor's YOLO sample only applied the confidence when `object` was also given).
 */
export interface InferenceFilters {
  minConfidence?: number;
  objects?: ReadonlySet<string>;
}

/** The query parameters the filters read. */
export const FILTER_KEYS = ['confidence', 'object'] as const;
const DECIMAL = /^(?:\d+\.?\d*|\.\d+)$/;

/** Reads the filters from the query; a malformed value is the client's error (400), never silently ignored. */
export function parseFilters(query: Readonly<Record<string, string>>): InferenceFilters {
  for (const key of Object.keys(query)) {
    // `confidence[]=` or `object[x]=`: a filter spelled in a form we do not read must not be ignored silently.
    const base = key.split('[')[0];
    if (key !== base && FILTER_KEYS.some((k) => k === base)) {
      throw new HxError('HX_ERR_HTTP_BAD_QUERY', `?${key}: give ${base} once, as ?${base}=`);
    }
  }
  const filters: InferenceFilters = {};
  const confidence = query.confidence;
  if (confidence !== undefined) {
    const value = Number(confidence);
    // Plain decimals only: Number() also reads "0x1", "1e-1" and " .5 ".
    if (!DECIMAL.test(confidence) || !(value >= 0 && value <= 1)) {
      throw new HxError('HX_ERR_HTTP_BAD_QUERY', `?confidence must be a number from 0 to 1, got "${confidence}"`);
    }
    filters.minConfidence = value;
  }
  const object = query.object;
  if (object !== undefined) {
    const names = object
      .split(',')
      .map((name) => name.trim().toLowerCase())
      .filter((name) => name.length > 0);
    if (names.length === 0) throw new HxError('HX_ERR_HTTP_BAD_QUERY', '?object must name at least one tag value');
    filters.objects = new Set(names);
  }
  return filters;
}

function hasFilters(filters: InferenceFilters): boolean {
  return filters.minConfidence !== undefined || filters.objects !== undefined;
}

/**
 * Keeps what passes. Inferences without a tag (motion, text) are not judged themselves, but one whose
 * `relatedInferences` all point to dropped inferences goes with them (the text read inside a dropped box).
 */
export function applyFilters(inferences: Inference[], filters: InferenceFilters): Inference[] {
  if (!hasFilters(filters)) return inferences;
  const dropped = new Set<string>();
  const kept = inferences.filter((inference) => {
    const tag = tagOf(inference);
    if (tag === undefined) return true;
    const pass =
      (filters.minConfidence === undefined || (tag.confidence ?? 1) >= filters.minConfidence) &&
      (filters.objects === undefined || filters.objects.has(tag.value.toLowerCase()));
    if (!pass && inference.inferenceId !== undefined) dropped.add(inference.inferenceId);
    return pass;
  });
  if (dropped.size === 0) return kept;
  return kept.filter((inference) => {
    const related = inference.relatedInferences;
    return related === undefined || related.length === 0 || !related.every((id) => dropped.has(id));
  });
}

function tagOf(inference: Inference): { value: string; confidence?: number | undefined } | undefined {
  switch (inference.type) {
    case 'entity':
      return inference.entity.tag;
    case 'classification':
      return inference.classification.tag;
    default:
      return undefined;
  }
}

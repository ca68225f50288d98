import type { ErrorObject, Options, ValidateFunction } from 'ajv';
import { compileSchema } from './compile.js';
import type { Inference, InferenceResponse, Rectangle } from './inference.js';
import { strictInferenceSchema } from './strict-schema.js';

export const INFERENCE_VALIDATION: Options = { allErrors: true, strict: false };

let compiled: ValidateFunction | undefined;

/** Loads the validator: called once at worker start, not on the first request. */
export function validator(): ValidateFunction {
  compiled ??= compileSchema(strictInferenceSchema, INFERENCE_VALIDATION);
  return compiled;
}

/** Validates an answer against the strict schema plus the rules JSON Schema cannot say (boxes inside the image). */
export function validateResponse(value: unknown): string[] {
  const validate = validator();
  const problems: string[] = [];
  if (!validate(value)) problems.push(...(validate.errors ?? []).map(formatAjvError));
  else {
    for (const [i, inference] of (value as InferenceResponse).inferences.entries()) {
      for (const box of boxesOf(inference)) {
        if (box.l + box.w > 1 + 1e-9 || box.t + box.h > 1 + 1e-9) {
          problems.push(`/inferences/${i}: box ${JSON.stringify(box)} leaves the image (l+w or t+h > 1)`);
        }
      }
    }
  }
  return problems;
}

/** Validates a processor's output list (which may be empty: no result is a 204, not an error). */
export function validateInferences(inferences: readonly unknown[]): string[] {
  return inferences.length === 0 ? [] : validateResponse({ inferences });
}

function boxesOf(inference: Inference): Rectangle[] {
  switch (inference.type) {
    case 'entity':
      return [inference.entity.box];
    case 'motion':
    case 'event': {
      const box = inference.type === 'motion' ? inference.motion.box : inference.event.box;
      return box ? [box] : [];
    }
    default:
      return [];
  }
}

/** One schema violation as an operator reads it: where, and what to change (the key or values by name). */
export function formatAjvError(error: ErrorObject): string {
  if (error.keyword === 'additionalProperties') {
    const key = (error.params as { additionalProperty: string }).additionalProperty;
    return `${error.instancePath || '/'}: unknown key "${key}"`;
  }
  if (error.keyword === 'enum') {
    const allowed = (error.params as { allowedValues: unknown[] }).allowedValues;
    return `${error.instancePath}: must be one of ${allowed.join(', ')}`;
  }
  return `${error.instancePath || '/'} ${error.message ?? 'is invalid'}`;
}

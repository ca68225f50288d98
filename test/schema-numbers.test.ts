import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { clamp01, clampBox, round3 } from '../src/schema/inference.js';
import { rectangle } from '../src/vision/box.js';

describe('the one clamp and the one rounding of answered numbers', () => {
  test('clamp01: NaN is 0, out-of-range values saturate (infinities included)', () => {
    assert.deepEqual(
      [Number.NaN, -0.5, 0, 0.25, 1, 7, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY].map(clamp01),
      [0, 0, 0, 0.25, 1, 1, 1, 0],
    );
  });

  test('round3: three decimals inside 0..1, NaN is 0', () => {
    assert.deepEqual([0.12345, 0.9996, 1.2, -0.1, Number.NaN].map(round3), [0.123, 1, 1, 0, 0]);
  });

  test('boxes built from NaN or infinite corners stay inside the unit square', () => {
    assert.deepEqual(clampBox({ l: Number.NaN, t: 0.5, w: Number.POSITIVE_INFINITY, h: 0.7 }), {
      l: 0,
      t: 0.5,
      w: 1,
      h: 0.5,
    });
    assert.deepEqual(rectangle(Number.NaN, 0.2, Number.POSITIVE_INFINITY, 0.4), { l: 0, t: 0.2, w: 1, h: 0.2 });
  });
});

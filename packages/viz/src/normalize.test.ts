import { describe, expect, it } from 'vitest';
import { normalizeForDisplay, percentile, toGrayscale8 } from './normalize.js';
import type { DisplayMode } from './normalize.js';

const MODES: DisplayMode[] = ['absolute', 'positive', 'signed'];

function closeTo(actual: ArrayLike<number>, expected: number[], digits = 6): void {
  expect(actual.length).toBe(expected.length);
  expected.forEach((e, i) => expect(actual[i], `index ${i}`).toBeCloseTo(e, digits));
}

describe('percentile', () => {
  it('interpolates linearly between ranks (NumPy "linear")', () => {
    const v = [5, 1, 4, 2, 3]; // unsorted on purpose
    expect(percentile(v, 0)).toBe(1);
    expect(percentile(v, 100)).toBe(5);
    expect(percentile(v, 50)).toBe(3);
    expect(percentile(v, 25)).toBe(2);
    expect(percentile(v, 10)).toBeCloseTo(1.4, 12); // rank 0.4
    expect(percentile(new Float32Array([0, 10]), 35)).toBeCloseTo(3.5, 6);
  });

  it('ignores NaN, copes with infinities, and is NaN with no values', () => {
    expect(percentile([Number.NaN, 2, Number.NaN, 4], 50)).toBe(3);
    expect(percentile([1, Number.POSITIVE_INFINITY, Number.POSITIVE_INFINITY], 100)).toBe(Number.POSITIVE_INFINITY);
    expect(percentile([], 50)).toBeNaN();
    expect(percentile([Number.NaN], 50)).toBeNaN();
  });

  it('does not modify its input and rejects p outside [0, 100]', () => {
    const v = new Float32Array([3, 1, 2]);
    percentile(v, 50);
    expect([...v]).toEqual([3, 1, 2]);
    expect(() => percentile(v, -1)).toThrow(RangeError);
    expect(() => percentile(v, 100.5)).toThrow(RangeError);
    expect(() => percentile(v, Number.NaN)).toThrow(RangeError);
  });
});

describe('normalizeForDisplay', () => {
  const v = [-4, 2, 0, 1];

  it('absolute: |v| scaled to [0, 1]', () => {
    const out = normalizeForDisplay(v, { mode: 'absolute', clipPercentile: 100 });
    expect(out).toBeInstanceOf(Float32Array);
    closeTo(out, [1, 0.5, 0, 0.25]);
  });

  it('positive: negative values vanish, positives scaled by their own maximum', () => {
    closeTo(normalizeForDisplay(v, { mode: 'positive', clipPercentile: 100 }), [0, 1, 0, 0.5]);
  });

  it('signed: keeps the sign, 0 stays 0, scaled by the magnitude', () => {
    const out = normalizeForDisplay(v, { mode: 'signed', clipPercentile: 100 });
    closeTo(out, [-1, 0.5, 0, 0.25]);
    const mixed = normalizeForDisplay([-3, -1, 0, 0, 1, 3], { mode: 'signed', clipPercentile: 100 });
    closeTo(mixed, [-1, -1 / 3, 0, 0, 1 / 3, 1]);
    for (let i = 0; i < mixed.length; i++) expect(Math.sign(mixed[i]!)).toBe(Math.sign([-3, -1, 0, 0, 1, 3][i]!));
  });

  it('defaults to the absolute mode', () => {
    expect([...normalizeForDisplay(v, { clipPercentile: 100 })]).toEqual([
      ...normalizeForDisplay(v, { mode: 'absolute', clipPercentile: 100 }),
    ]);
  });

  it('clips at the requested percentile so an outlier does not wash out the map', () => {
    const values = [...Array.from({ length: 99 }, (_, i) => i + 1), 10_000]; // 1..99 and one outlier
    // 98th percentile of the 100 magnitudes: rank 97.02 -> 98 + 0.02 * (99 - 98) = 98.02.
    const out = normalizeForDisplay(values, { clipPercentile: 98 });
    expect(out[49]).toBeCloseTo(50 / 98.02, 6);
    expect(out[97]).toBeCloseTo(98 / 98.02, 6);
    expect(out[98]).toBe(1); // 99 > scale: clipped
    expect(out[99]).toBe(1); // the outlier: clipped
    // Without clipping the outlier sets the scale and the rest is nearly black.
    const unclipped = normalizeForDisplay(values, { clipPercentile: 100 });
    expect(unclipped[98]).toBeCloseTo(99 / 10_000, 6);
    // Signed clipping is symmetric.
    const signed = normalizeForDisplay(values.map((x, i) => (i % 2 ? -x : x)), { mode: 'signed', clipPercentile: 98 });
    expect(signed[99]).toBe(-1);
    expect(signed[49]).toBeCloseTo(-50 / 98.02, 6);
  });

  it('uses 99.5 as the default percentile', () => {
    const values = Array.from({ length: 1000 }, (_, i) => ((i * 7919) % 1000) / 10 - 50);
    expect([...normalizeForDisplay(values, { mode: 'signed' })]).toEqual([
      ...normalizeForDisplay(values, { mode: 'signed', clipPercentile: 99.5 }),
    ]);
    const scale = percentile(values.map(Math.abs).filter((x) => x > 0), 99.5);
    expect(normalizeForDisplay(values)[1]).toBeCloseTo(Math.min(Math.abs(values[1]!) / scale, 1), 6);
  });

  it('gives all zeros (no NaN) for an all-zero map in every mode', () => {
    for (const mode of MODES) {
      const out = normalizeForDisplay(new Float32Array(16), { mode });
      expect(out.length).toBe(16);
      expect([...out].every((x) => x === 0), mode).toBe(true);
    }
    expect([...normalizeForDisplay([-1, -2, 0], { mode: 'positive' })]).toEqual([0, 0, 0]);
    expect(normalizeForDisplay([], {}).length).toBe(0);
  });

  it('ignores exact zeros when choosing the scale, so sparse maps still show', () => {
    const sparse = new Float32Array(1000);
    sparse[10] = 5;
    sparse[20] = 2.5;
    const out = normalizeForDisplay(sparse, { clipPercentile: 100 });
    expect(out[10]).toBe(1);
    expect(out[20]).toBe(0.5);
    expect(out[0]).toBe(0);
  });

  it('agrees across modes on a map with no negative values', () => {
    const cam = [0, 0, 0.5, 2, 1, 0, 3, 8];
    const a = [...normalizeForDisplay(cam, { mode: 'absolute', clipPercentile: 90 })];
    expect([...normalizeForDisplay(cam, { mode: 'positive', clipPercentile: 90 })]).toEqual(a);
    expect([...normalizeForDisplay(cam, { mode: 'signed', clipPercentile: 90 })]).toEqual(a);
  });

  it('shows NaN as 0 and clips infinities', () => {
    const out = normalizeForDisplay([Number.NaN, 1, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY, 2], {
      mode: 'signed',
      clipPercentile: 100,
    });
    closeTo(out, [0, 0.5, 1, -1, 1]);
  });

  it('rejects bad options', () => {
    expect(() => normalizeForDisplay([1], { clipPercentile: 0 })).toThrow(RangeError);
    expect(() => normalizeForDisplay([1], { clipPercentile: 101 })).toThrow(RangeError);
    expect(() => normalizeForDisplay([1], { mode: 'abs' as DisplayMode })).toThrow(/mode/);
  });
});

describe('toGrayscale8', () => {
  it('maps min..max to 0..255 by default', () => {
    const out = toGrayscale8(new Float32Array([0, 0.5, 1, 0.25]));
    expect(out).toBeInstanceOf(Uint8ClampedArray);
    expect([...out]).toEqual([0, 128, 255, 64]);
    expect([...toGrayscale8([-2, 0, 2])]).toEqual([0, 128, 255]);
  });

  it('uses lo/hi when given and clips outside them', () => {
    expect([...toGrayscale8([-1, 0, 0.5, 2], 0, 1)]).toEqual([0, 0, 128, 255]);
    expect([...toGrayscale8([0, 1], 1, 0)]).toEqual([255, 0]); // inverted ramp
    expect([...toGrayscale8([0, 5, 10], 0)]).toEqual([0, 128, 255]); // hi from the data
  });

  it('gives zeros for a constant input and for NaN', () => {
    expect([...toGrayscale8([3, 3, 3])]).toEqual([0, 0, 0]);
    expect([...toGrayscale8([0, Number.NaN, 1])]).toEqual([0, 0, 255]);
  });
});

import { describe, expect, it } from 'vitest';
import { resizeBilinear } from './resize.js';

describe('resizeBilinear (half-pixel centres)', () => {
  it('upsamples 2x2 to 4x4 as computed by hand', () => {
    // Source [[0, 1], [2, 3]]. Output column x samples source x' = (x + 0.5) / 2 - 0.5, clamped to [0, 1]:
    // x' = 0, 0.25, 0.75, 1 (and the same for rows), so out = x' * (1 - 0) + y' * (2 - 0) = x' + 2 y'.
    const out = resizeBilinear([0, 1, 2, 3], 2, 2, 4, 4);
    expect(out).toBeInstanceOf(Float32Array);
    // prettier-ignore
    expect([...out]).toEqual([
      0,   0.25, 0.75, 1,
      0.5, 0.75, 1.25, 1.5,
      1.5, 1.75, 2.25, 2.5,
      2,   2.25, 2.75, 3,
    ]);
  });

  it('upsamples a non-separable map correctly', () => {
    // Source [[0, 0], [0, 4]]: bilinear is x' * y' * 4.
    const out = resizeBilinear([0, 0, 0, 4], 2, 2, 4, 4);
    const coords = [0, 0.25, 0.75, 1];
    coords.forEach((yy, y) => coords.forEach((xx, x) => expect(out[y * 4 + x]).toBeCloseTo(4 * xx * yy, 6)));
  });

  it('keeps values when the size is unchanged and averages neighbours when halving', () => {
    const src = [1, 2, 3, 4, 5, 6];
    expect([...resizeBilinear(src, 3, 2, 3, 2)]).toEqual(src);
    // 4 -> 2: output x samples (x + 0.5) * 2 - 0.5 = 0.5, 2.5: the mean of each pair.
    expect([...resizeBilinear([0, 2, 4, 6], 4, 1, 2, 1)]).toEqual([1, 5]);
  });

  it('upsamples a 1x1 map to a constant and keeps constants constant', () => {
    expect([...resizeBilinear([7], 1, 1, 3, 2)]).toEqual([7, 7, 7, 7, 7, 7]);
    const out = resizeBilinear(new Float32Array(35).fill(-0.5), 7, 5, 13, 11);
    expect(out.every((x) => x === -0.5)).toBe(true);
  });

  it('rejects a map of the wrong length or a bad size', () => {
    expect(() => resizeBilinear([1, 2, 3], 2, 2, 4, 4)).toThrow(RangeError);
    expect(() => resizeBilinear([1], 1, 1, 0, 4)).toThrow(RangeError);
  });
});

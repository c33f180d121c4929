import { describe, expect, it } from 'vitest';
import { absNorm, divergingNorm, norm01, pearson, percentile, rankData, spearman, ssim } from './stats.js';

/** The 16x20 test images of the SSIM reference (values from scipy, see below). */
function images(): { x: Float64Array; y: Float64Array } {
  const x = new Float64Array(16 * 20);
  const y = new Float64Array(16 * 20);
  for (let i = 0; i < 16; i++) {
    for (let j = 0; j < 20; j++) {
      const v = ((i * 7 + j * 3) % 11) / 10;
      x[i * 20 + j] = v;
      y[i * 20 + j] = Math.min(1, Math.max(0, v + 0.2 * Math.sin(i * 0.7 + j * 1.3)));
    }
  }
  return { x, y };
}

describe('rank statistics', () => {
  it('ranks ties by their average rank (scipy rankdata)', () => {
    expect(Array.from(rankData([10, 20, 20, 5]))).toEqual([2, 3.5, 3.5, 1]);
  });

  it('Spearman matches scipy.stats.spearmanr on known vectors', () => {
    expect(spearman([1, 2, 3, 4, 5], [5, 6, 7, 8, 7])).toBeCloseTo(0.8207826816681233, 12);
    expect(spearman([3, 1, 4, 1, 5, 9, 2, 6], [2, 7, 1, 8, 2, 8, 1, 8])).toBeCloseTo(0.19885368120992467, 12);
    expect(spearman([1, 2, 3], [30, 20, 10])).toBe(-1);
    expect(spearman([1, 2, 3], [1, 4, 9])).toBe(1);
    expect(spearman([1, 1, 1], [1, 2, 3])).toBeNaN();
  });

  it('Pearson of exact linear relations is ±1', () => {
    expect(pearson([1, 2, 3, 4], [2, 4, 6, 8])).toBeCloseTo(1, 12);
    expect(pearson([1, 2, 3, 4], [-1, -2, -3, -4])).toBeCloseTo(-1, 12);
  });

  it('percentile interpolates linearly as numpy', () => {
    expect(percentile([3, 1, 4, 1, 5, 9, 2, 6], 99)).toBeCloseTo(8.79, 12);
    expect(percentile([3, 1, 4, 1, 5, 9, 2, 6], 37)).toBeCloseTo(2.59, 12);
  });
});

describe('SSIM', () => {
  it('SSIM(x, x) = 1', () => {
    const { x } = images();
    expect(ssim(x, x, 16, 20)).toBeCloseTo(1, 12);
    expect(ssim(new Float64Array(36), new Float64Array(36), 6, 6)).toBeCloseTo(1, 12);
  });

  it('matches skimage structural_similarity(gaussian_weights=True, data_range=1) (reference computed with scipy)', () => {
    const { x, y } = images();
    // np/scipy: gaussian_filter(sigma=1.5, truncate=3.5, mode='reflect'), cov_norm = 121/120, crop 5.
    expect(ssim(x, y, 16, 20)).toBeCloseTo(0.9000480879207824, 10);
    expect(ssim(x, x.map((v) => 1 - v), 16, 20)).toBeCloseTo(-0.9893146188074873, 10);
  });

  it('names the expected size on a mismatch', () => {
    expect(() => ssim([1, 2, 3], [1, 2, 3], 2, 2)).toThrow(/2x2 = 4 values/);
  });
});

describe('sanity-check normalisations', () => {
  it('2-D maps: |x| / max|x| and x / max|x|', () => {
    const m = { values: [-2, 1, 0, 4], h: 2, w: 2 };
    expect(Array.from(absNorm(m))).toEqual([0.5, 0.25, 0, 1]);
    expect(Array.from(divergingNorm(m))).toEqual([-0.5, 0.25, 0, 1]);
  });

  it('maps with channels: PAIR VisualizeImageGrayscale (sum |x|, clip at the 99th percentile)', () => {
    // 2x2 pixels, 2 channels: sums of |x| are 3, 1, 0, 10; p99 = 9.79, min 0.
    const m = { values: [1, -2, 0, 1, 0, 0, 4, 6], h: 2, w: 2, c: 2 };
    const v = absNorm(m);
    expect(v[0]).toBeCloseTo(3 / 9.79, 12);
    expect(v[2]).toBe(0);
    expect(v[3]).toBe(1);
  });

  it('norm01 scales to [0, 1]; a constant map becomes zeros', () => {
    expect(Array.from(norm01([2, 4, 6]))).toEqual([0, 0.5, 1]);
    expect(Array.from(norm01([3, 3]))).toEqual([0, 0]);
  });
});

import { describe, expect, it } from 'vitest';
import { histogram255, otsuBin, otsuThreshold, siseOtsuThreshold } from './otsu.js';

describe('Otsu thresholds (256-bin histograms)', () => {
  it('otsuBin: the split maximising w0 w1 (u0 - u1)^2, first maximum on ties (hand-computed)', () => {
    // hist [2, 1, 0, 1]: t = 0 -> 2*2*(0 - 2)^2 = 16; t = 1 -> 3*1*(1/3 - 3)^2 = 21.33;
    // t = 2 -> the same split as t = 1 (empty bin): 21.33, not larger, so t = 1 stays.
    expect(otsuBin([2, 1, 0, 1])).toBe(1);
    // Two equal modes far apart: every split between them has the same variance; the first wins.
    expect(otsuBin([3, 0, 0, 0, 3])).toBe(0);
    expect(otsuBin([0, 3, 0, 0, 3])).toBe(1);
    // No split with two non-empty classes: 0.
    expect(otsuBin([0, 0, 5, 0])).toBe(0);
    expect(otsuBin([0, 0, 0, 0])).toBe(0);
  });

  it('otsuThreshold is OpenCV THRESH_OTSU on uint8(255 v), returned as t / 255 (hand-computed)', () => {
    // Levels floor(255 v): 0, 0, 127, 255. Splits t < 127: w0 = 2, u0 = 0, w1 = 2, u1 = 191:
    // 2*2*191^2 = 145924. t in [127, 255): w0 = 3, u0 = 42.33, w1 = 1, u1 = 255: 3*212.67^2 = 135681.
    // So t = 0 and the foreground (v > 0) is {0.5, 1}.
    expect(otsuThreshold([0, 0, 0.5, 1])).toBe(0);
    // Levels 10 (x3), 20 (x1), 200 (x2): t in [10, 20) gives 3*3*(10 - 140)^2 = 152100;
    // t in [20, 200): 4*2*(12.5 - 200)^2 = 281250, the first such t is 20.
    const v = [10, 10, 10, 20, 200, 200].map((q) => (q + 0.5) / 255);
    expect(otsuThreshold(v)).toBeCloseTo(20 / 255, 12);
    const h = histogram255([0, 1, 0.5, -1, Number.NaN, 2]);
    expect([h[0], h[127], h[255]]).toEqual([3, 1, 2]);
  });

  it("siseOtsuThreshold follows the reference code's otsu(): round(256 v) levels, classes [0, j) | [j, 256), tau rule", () => {
    // 8 zeros, 0.5 (level 128), 1 (level 256 -> last bin). j in 1..128: 8*2*(0 - 191.5)^2 = 586756;
    // j in 129..255: 9*1*(14.22 - 255)^2 = 521766; so t = 1. round(1.5) = 2 and 2 of 10 values
    // lie at or above level 2, not fewer than 10%: threshold t / 256.
    expect(siseOtsuThreshold([0, 0, 0, 0, 0, 0, 0, 0, 0.5, 1])).toBe(1 / 256);
    // 5 zeros, 14 x 0.25 (level 64), one 1 (last bin). j <= 64: 5*15*(0 - 76.73)^2 = 441600;
    // j in 65..255: 19*1*(47.16 - 255)^2 = 820768, first at j = 65. round(97.5) = 98 (half to even),
    // and 1 of 20 values (< 10%) lies at or above level 98: the threshold becomes tau t / 256.
    const v = [...new Array<number>(5).fill(0), ...new Array<number>(14).fill(0.25), 1];
    expect(siseOtsuThreshold(v)).toBe((65 * 1.5) / 256);
    expect(siseOtsuThreshold(v, 1)).toBe(65 / 256);
    // A constant map: no split, threshold 0.
    expect(siseOtsuThreshold(new Array<number>(10).fill(0))).toBe(0);
  });
});

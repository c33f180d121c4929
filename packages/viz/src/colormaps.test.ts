import { describe, expect, it } from 'vitest';
import { COLORMAPS, DIVERGING, colormap, colormapLut } from './colormaps.js';
import type { ColormapName } from './colormaps.js';

type RGB = [number, number, number];

function expectClose(actual: RGB, expected: RGB, tol: number): void {
  for (let c = 0; c < 3; c++) {
    expect(Math.abs(actual[c]! - expected[c]!), `channel ${c}: got ${actual}, expected ${expected}`).toBeLessThanOrEqual(tol);
  }
}

/** CIELAB lightness L* of an sRGB colour (D65). */
function lightness([r, g, b]: RGB): number {
  const lin = (v: number) => {
    const c = v / 255;
    return c <= 0.04045 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4;
  };
  const y = 0.2126729 * lin(r) + 0.7151522 * lin(g) + 0.072175 * lin(b);
  return y > (6 / 29) ** 3 ? 116 * Math.cbrt(y) - 16 : (29 / 3) ** 3 * y;
}

describe('colormap names', () => {
  it('lists every colormap once and marks coolwarm as the diverging one', () => {
    expect([...COLORMAPS].sort()).toEqual(['coolwarm', 'gray', 'inferno', 'jet', 'turbo', 'viridis']);
    expect([...DIVERGING]).toEqual(['coolwarm']);
  });

  it('rejects an unknown name', () => {
    expect(() => colormap('rainbow' as ColormapName)).toThrow(/unknown colormap "rainbow"/);
    expect(() => colormap('toString' as ColormapName)).toThrow(RangeError);
  });
});

describe('known colormap values', () => {
  // Reference colours of the published colormaps (matplotlib's viridis/inferno, Google's turbo,
  // Moreland's coolwarm, classic jet). Our anchors are within ~2 per channel of the originals.
  const cases: Array<[ColormapName, number, RGB]> = [
    ['viridis', 0, [68, 1, 84]],
    ['viridis', 0.25, [59, 82, 139]],
    ['viridis', 0.5, [33, 145, 140]],
    ['viridis', 0.75, [94, 201, 98]],
    ['viridis', 1, [253, 231, 37]],
    ['inferno', 0, [0, 0, 4]],
    ['inferno', 0.5, [188, 55, 84]],
    ['inferno', 1, [252, 255, 164]],
    ['turbo', 0, [48, 18, 59]],
    ['turbo', 0.5, [164, 252, 60]],
    ['turbo', 1, [122, 4, 3]],
    ['coolwarm', 0, [59, 76, 192]],
    ['coolwarm', 0.5, [221, 221, 221]],
    ['coolwarm', 1, [180, 4, 38]],
  ];
  for (const [name, t, rgb] of cases) {
    it(`${name}(${t}) is close to ${rgb.join(',')}`, () => {
      expectClose(colormap(name)(t), rgb, 3);
    });
  }

  it('jet follows its piecewise-linear definition exactly', () => {
    const jet = colormap('jet');
    expect(jet(0)).toEqual([0, 0, 128]);
    expect(jet(0.125)).toEqual([0, 0, 255]);
    // At 0.5: red = (0.5 - 0.35) / 0.31, green = 1, blue = 1 - (0.5 - 0.34) / 0.31.
    expect(jet(0.5)).toEqual([Math.round((0.15 / 0.31) * 255), 255, Math.round((1 - 0.16 / 0.31) * 255)]);
    expect(jet(0.75)).toEqual([255, Math.round((1 - 0.11 / 0.27) * 255), 0]);
    expect(jet(1)).toEqual([128, 0, 0]);
  });

  it('gray is a linear ramp', () => {
    const gray = colormap('gray');
    expect(gray(0)).toEqual([0, 0, 0]);
    expect(gray(0.25)).toEqual([64, 64, 64]);
    expect(gray(1)).toEqual([255, 255, 255]);
  });

  it('returns integers in 0..255 and clamps t (NaN counts as 0)', () => {
    for (const name of COLORMAPS) {
      const f = colormap(name);
      expect(f(-3)).toEqual(f(0));
      expect(f(7)).toEqual(f(1));
      expect(f(Number.NaN)).toEqual(f(0));
      expect(f(Number.POSITIVE_INFINITY)).toEqual(f(1));
      for (let k = 0; k <= 100; k++) {
        for (const v of f(k / 100)) {
          expect(Number.isInteger(v) && v >= 0 && v <= 255).toBe(true);
        }
      }
    }
  });

  it('is continuous: neighbouring samples differ little', () => {
    for (const name of COLORMAPS) {
      const lut = colormapLut(name, 1024);
      let worst = 0;
      for (let i = 3; i < lut.length; i++) worst = Math.max(worst, Math.abs(lut[i]! - lut[i - 3]!));
      expect(worst, name).toBeLessThanOrEqual(name === 'turbo' || name === 'jet' ? 6 : 4);
    }
  });
});

describe('perceptual ordering', () => {
  for (const name of ['viridis', 'inferno'] as const) {
    it(`${name} gets lighter monotonically`, () => {
      const f = colormap(name);
      const samples = Array.from({ length: 65 }, (_, k) => lightness(f(k / 64)));
      for (let k = 1; k < samples.length; k++) expect(samples[k]!).toBeGreaterThan(samples[k - 1]!);
      // On the full 8-bit table, rounding may make two neighbours equal, never clearly darker.
      const lut = colormapLut(name);
      for (let i = 1; i < 256; i++) {
        const prev = lightness([lut[(i - 1) * 3]!, lut[(i - 1) * 3 + 1]!, lut[(i - 1) * 3 + 2]!]);
        const cur = lightness([lut[i * 3]!, lut[i * 3 + 1]!, lut[i * 3 + 2]!]);
        expect(cur).toBeGreaterThan(prev - 0.5);
      }
      expect(samples[64]! - samples[0]!).toBeGreaterThan(70); // dark to light: L* spans ~75 (viridis) to ~98 (inferno)
    });
  }

  it('coolwarm is lightest in the middle and symmetric in lightness', () => {
    const f = colormap('coolwarm');
    const mid = lightness(f(0.5));
    for (let k = 0; k <= 32; k++) {
      const t = k / 64;
      expect(lightness(f(t))).toBeLessThanOrEqual(mid + 0.5);
      expect(Math.abs(lightness(f(t)) - lightness(f(1 - t)))).toBeLessThan(3);
    }
    expect(mid - lightness(f(0))).toBeGreaterThan(25);
  });
});

describe('colormapLut', () => {
  it('samples the colormap evenly, 3 bytes per entry', () => {
    const lut = colormapLut('viridis');
    expect(lut).toBeInstanceOf(Uint8ClampedArray);
    expect(lut.length).toBe(256 * 3);
    const f = colormap('viridis');
    for (const i of [0, 1, 100, 128, 255]) {
      expect([lut[i * 3], lut[i * 3 + 1], lut[i * 3 + 2]]).toEqual(f(i / 255));
    }
    const two = colormapLut('gray', 2);
    expect([...two]).toEqual([0, 0, 0, 255, 255, 255]);
    expect([...colormapLut('coolwarm', 1)]).toEqual(colormap('coolwarm')(0));
  });

  it('rejects a bad size', () => {
    expect(() => colormapLut('gray', 0)).toThrow(RangeError);
    expect(() => colormapLut('gray', 2.5)).toThrow(RangeError);
  });
});

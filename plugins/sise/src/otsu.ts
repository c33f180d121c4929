/**
 * Otsu's method on 256-bin histograms, in the two forms SISE and Ada-SISE use. Values are
 * expected in [0, 1] (min-max normalised maps, or gradient scores divided by their maximum).
 */

/** Number of histogram bins. */
export const OTSU_BINS = 256;

/**
 * The bin t that maximises the between-class variance w0 w1 (u0 - u1)^2 of the classes
 * [0, t] and [t + 1, bins), as OpenCV's THRESH_OTSU does; the first maximum wins; splits with
 * an empty class are skipped; 0 when no split has positive variance (a constant histogram).
 */
export function otsuBin(hist: ArrayLike<number>): number {
  const bins = hist.length;
  let total = 0;
  let sum = 0;
  for (let i = 0; i < bins; i++) {
    total += hist[i] as number;
    sum += i * (hist[i] as number);
  }
  let w0 = 0;
  let s0 = 0;
  let best = 0;
  let bestVar = 0;
  for (let t = 0; t < bins - 1; t++) {
    w0 += hist[t] as number;
    s0 += t * (hist[t] as number);
    const w1 = total - w0;
    if (w0 === 0 || w1 === 0) continue;
    const d = s0 / w0 - (sum - s0) / w1;
    const v = w0 * w1 * d * d;
    if (v > bestVar) {
      bestVar = v;
      best = t;
    }
  }
  return best;
}

/** Histogram of values quantised as uint8(255 v) (floor, clamped to [0, 255]; NaN counts as 0). */
export function histogram255(values: ArrayLike<number>): Float64Array {
  const hist = new Float64Array(OTSU_BINS);
  for (let i = 0; i < values.length; i++) {
    const v = values[i] as number;
    const q = v > 0 ? Math.min(OTSU_BINS - 1, Math.floor(v * 255)) : 0;
    hist[q] = (hist[q] as number) + 1;
  }
  return hist;
}

/**
 * Otsu threshold of values in [0, 1], as OpenCV's THRESH_OTSU on uint8(255 v): the bin t of
 * `otsuBin`, returned as t / 255. The foreground is `v > threshold`. Used for the hard
 * Binary_Otsu of SISE's fusion (the paper) and for Ada-SISE's adaptive gradient threshold.
 */
export function otsuThreshold(values: ArrayLike<number>): number {
  return otsuBin(histogram255(values)) / 255;
}

/** numpy's round (half to even). */
function roundHalfEven(x: number): number {
  const r = Math.round(x);
  return Math.abs(x % 1) === 0.5 ? 2 * Math.round(x / 2) : r;
}

/**
 * The SISE reference code's `otsu(I, nbins=256, tau=1.5)` (ECE1512/Project-A xai_utils.py):
 * levels round(256 v) in a 256-bin histogram over [0, 256] (level 256 falls in the last bin);
 * t maximises w0 w1 (u0 - u1)^2 over the splits [0, j) | [j, 256), j = 1..255 (first maximum;
 * 0 when none is positive; the code's numpy gives NaN for an empty class, which min-max
 * normalised maps never have); then, if fewer than 10% of the values lie at or above level
 * round(tau t), the threshold is tau t / 256, else t / 256. Used by the soft Otsu fusion,
 * sigmoid(100 (V - threshold)).
 */
export function siseOtsuThreshold(values: ArrayLike<number>, tau = 1.5): number {
  const bins = OTSU_BINS;
  const hist = new Float64Array(bins);
  for (let i = 0; i < values.length; i++) {
    const v = values[i] as number;
    const q = v > 0 ? Math.min(bins - 1, roundHalfEven(v * bins)) : 0;
    hist[q] = (hist[q] as number) + 1;
  }
  // otsuBin's class [0, t] is the code's [0, j) with j = t + 1.
  let total = 0;
  for (let i = 0; i < bins; i++) total += hist[i] as number;
  let w0 = 0;
  let s0 = 0;
  let sum = 0;
  for (let i = 0; i < bins; i++) sum += i * (hist[i] as number);
  let t = 0;
  let bestVar = 0;
  for (let j = 1; j < bins; j++) {
    w0 += hist[j - 1] as number;
    s0 += (j - 1) * (hist[j - 1] as number);
    const w1 = total - w0;
    if (w0 === 0 || w1 === 0) continue;
    const d = s0 / w0 - (sum - s0) / w1;
    const v = w0 * w1 * d * d;
    if (v > bestVar) {
      bestVar = v;
      t = j;
    }
  }
  const k = roundHalfEven(t * tau);
  let above = 0;
  for (let i = Math.min(bins, Math.max(0, k)); i < bins; i++) above += hist[i] as number;
  return above < 0.1 * total ? (t * tau) / bins : t / bins;
}

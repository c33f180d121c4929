import { CnnXaiError, pearson } from '@cnn-xai/core';

/** Ranks 1..n with ties given their average rank (scipy.stats.rankdata, method 'average'). */
export function rankData(x: ArrayLike<number>): Float64Array {
  const n = x.length;
  const idx = Array.from({ length: n }, (_, i) => i).sort((a, b) => (x[a] as number) - (x[b] as number) || a - b);
  const ranks = new Float64Array(n);
  let i = 0;
  while (i < n) {
    let j = i;
    while (j + 1 < n && x[idx[j + 1] as number] === x[idx[i] as number]) j++;
    const r = (i + j) / 2 + 1;
    for (let k = i; k <= j; k++) ranks[idx[k] as number] = r;
    i = j + 1;
  }
  return ranks;
}

function checkPair(a: ArrayLike<number>, b: ArrayLike<number>, what: string): void {
  if (a.length !== b.length || a.length < 2) {
    throw new CnnXaiError('BAD_INPUT_SHAPE', `${what} needs two vectors of the same length (at least 2); got ${a.length} and ${b.length}.`);
  }
}

/** Pearson correlation; NaN when either vector is constant (as scipy). From core. */
export { pearson };

/** Spearman rank correlation: Pearson of the average ranks (scipy.stats.spearmanr); NaN for a constant vector. */
export function spearman(a: ArrayLike<number>, b: ArrayLike<number>): number {
  checkPair(a, b, 'spearman');
  return pearson(rankData(a), rankData(b));
}

/** The q-th percentile (0..100) with linear interpolation (numpy.percentile's default). */
export function percentile(x: ArrayLike<number>, q: number): number {
  const s = Float64Array.from(x as ArrayLike<number>).sort();
  if (s.length === 0) return Number.NaN;
  const pos = ((s.length - 1) * q) / 100;
  const lo = Math.floor(pos);
  const hi = Math.min(s.length - 1, lo + 1);
  return (s[lo] as number) + ((s[hi] as number) - (s[lo] as number)) * (pos - lo);
}

/** A map of one image: H*W values (or H*W*C, channels last) and its shape. */
export interface Map2d {
  values: ArrayLike<number>;
  h: number;
  w: number;
  /** Channels (1 or absent for a 2-D map). */
  c?: number;
}

/**
 * The "absolute" normalisation of the sanity-checks code (Adebayo et al.): a 2-D map becomes
 * |x| / max|x|; a map with channels becomes PAIR saliency's VisualizeImageGrayscale:
 * Σ_c |x|, then (v - min) / (p99 - min) clipped to [0, 1].
 */
export function absNorm(m: Map2d): Float64Array {
  const { h, w } = m;
  const c = m.c ?? 1;
  const out = new Float64Array(h * w);
  for (let p = 0; p < h * w; p++) {
    let s = 0;
    for (let k = 0; k < c; k++) s += Math.abs(m.values[p * c + k] as number);
    out[p] = s;
  }
  if (c === 1) {
    let mx = 0;
    for (const v of out) mx = Math.max(mx, v);
    if (mx > 0) for (let p = 0; p < out.length; p++) out[p] = (out[p] as number) / mx;
    return out;
  }
  const vmax = percentile(out, 99);
  let vmin = Infinity;
  for (const v of out) vmin = Math.min(vmin, v);
  const span = vmax - vmin;
  for (let p = 0; p < out.length; p++) out[p] = span > 0 ? Math.min(1, Math.max(0, ((out[p] as number) - vmin) / span)) : 0;
  return out;
}

/**
 * The signed ("diverging") normalisation of the sanity-checks code: a 2-D map becomes
 * x / max|x|; a map with channels becomes VisualizeImageDiverging: Σ_c x, span = |p99|, then
 * (v + span) / (2 span) clipped to [-1, 1].
 */
export function divergingNorm(m: Map2d): Float64Array {
  const { h, w } = m;
  const c = m.c ?? 1;
  const out = new Float64Array(h * w);
  for (let p = 0; p < h * w; p++) {
    let s = 0;
    for (let k = 0; k < c; k++) s += m.values[p * c + k] as number;
    out[p] = s;
  }
  if (c === 1) {
    let mx = 0;
    for (const v of out) mx = Math.max(mx, Math.abs(v));
    if (mx > 0) for (let p = 0; p < out.length; p++) out[p] = (out[p] as number) / mx;
    return out;
  }
  const span = Math.abs(percentile(out, 99));
  if (span > 0) for (let p = 0; p < out.length; p++) out[p] = Math.min(1, Math.max(-1, ((out[p] as number) + span) / (2 * span)));
  return out;
}

/** Min-max scaling to [0, 1] (a constant map becomes zeros). */
export function norm01(x: ArrayLike<number>): Float64Array {
  let lo = Infinity;
  let hi = -Infinity;
  for (let i = 0; i < x.length; i++) {
    lo = Math.min(lo, x[i] as number);
    hi = Math.max(hi, x[i] as number);
  }
  const out = new Float64Array(x.length);
  if (hi > lo) for (let i = 0; i < x.length; i++) out[i] = ((x[i] as number) - lo) / (hi - lo);
  return out;
}

export interface SsimOptions {
  /** The data range L (default 1, for maps in [0, 1]). */
  dataRange?: number;
  /** Gaussian sigma of the window (default 1.5, as skimage's gaussian_weights=True). */
  sigma?: number;
}

/** scipy.ndimage 'reflect' (d c b a | a b c d) index. */
function reflect(i: number, n: number): number {
  if (n === 1) return 0;
  const period = 2 * n;
  let k = ((i % period) + period) % period;
  if (k >= n) k = period - 1 - k;
  return k;
}

function gaussianFilter(x: Float64Array, h: number, w: number, kernel: Float64Array): Float64Array {
  const r = (kernel.length - 1) / 2;
  const tmp = new Float64Array(h * w);
  const out = new Float64Array(h * w);
  for (let y = 0; y < h; y++) {
    for (let xx = 0; xx < w; xx++) {
      let s = 0;
      for (let k = -r; k <= r; k++) s += (kernel[k + r] as number) * (x[y * w + reflect(xx + k, w)] as number);
      tmp[y * w + xx] = s;
    }
  }
  for (let y = 0; y < h; y++) {
    for (let xx = 0; xx < w; xx++) {
      let s = 0;
      for (let k = -r; k <= r; k++) s += (kernel[k + r] as number) * (tmp[reflect(y + k, h) * w + xx] as number);
      out[y * w + xx] = s;
    }
  }
  return out;
}

/**
 * Structural similarity of two 2-D images (H*W values, row-major), as skimage's
 * `structural_similarity(a, b, gaussian_weights=True, data_range=L)`: Gaussian window
 * (sigma 1.5, truncated at 3.5 sigma: radius 5, 'reflect' borders), sample covariances
 * (NP / (NP - 1), NP = window size²), K1 = 0.01, K2 = 0.03, and the mean of the SSIM map without
 * a border of the window radius. On images smaller than 11 px the radius shrinks to fit.
 * SSIM(x, x) = 1.
 */
export function ssim(a: ArrayLike<number>, b: ArrayLike<number>, h: number, w: number, opts: SsimOptions = {}): number {
  if (a.length !== h * w || b.length !== h * w) {
    throw new CnnXaiError('BAD_INPUT_SHAPE', `ssim needs two images of ${h}x${w} = ${h * w} values; got ${a.length} and ${b.length}.`);
  }
  const L = opts.dataRange ?? 1;
  const sigma = opts.sigma ?? 1.5;
  const r = Math.max(0, Math.min(Math.floor(3.5 * sigma + 0.5), Math.floor((Math.min(h, w) - 1) / 2)));
  const kernel = new Float64Array(2 * r + 1);
  let ks = 0;
  for (let k = -r; k <= r; k++) {
    const v = Math.exp(-(k * k) / (2 * sigma * sigma));
    kernel[k + r] = v;
    ks += v;
  }
  for (let k = 0; k < kernel.length; k++) kernel[k] = (kernel[k] as number) / ks;
  const np = (2 * r + 1) ** 2;
  const covNorm = np > 1 ? np / (np - 1) : 1;
  const X = Float64Array.from(a as ArrayLike<number>);
  const Y = Float64Array.from(b as ArrayLike<number>);
  const prod = (p: Float64Array, q: Float64Array): Float64Array => p.map((v, i) => v * (q[i] as number));
  const ux = gaussianFilter(X, h, w, kernel);
  const uy = gaussianFilter(Y, h, w, kernel);
  const uxx = gaussianFilter(prod(X, X), h, w, kernel);
  const uyy = gaussianFilter(prod(Y, Y), h, w, kernel);
  const uxy = gaussianFilter(prod(X, Y), h, w, kernel);
  const C1 = (0.01 * L) ** 2;
  const C2 = (0.03 * L) ** 2;
  let sum = 0;
  let count = 0;
  for (let y = r; y < h - r; y++) {
    for (let x = r; x < w - r; x++) {
      const i = y * w + x;
      const mx = ux[i] as number;
      const my = uy[i] as number;
      const vx = covNorm * ((uxx[i] as number) - mx * mx);
      const vy = covNorm * ((uyy[i] as number) - my * my);
      const vxy = covNorm * ((uxy[i] as number) - mx * my);
      sum += ((2 * mx * my + C1) * (2 * vxy + C2)) / ((mx * mx + my * my + C1) * (vx + vy + C2));
      count++;
    }
  }
  return sum / count;
}

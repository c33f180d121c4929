/**
 * From raw attribution values to display values.
 */

/**
 * - `absolute`: |v| scaled to [0, 1] (where the model looks, whatever the sign).
 * - `positive`: max(v, 0) scaled to [0, 1] (evidence for the target only).
 * - `signed`: v scaled to [-1, 1], keeping 0 at 0 (evidence for and against).
 */
export type DisplayMode = 'absolute' | 'positive' | 'signed';

export interface DisplayOptions {
  /** Default `absolute`. */
  mode?: DisplayMode;
  /**
   * The percentile of the magnitudes that maps to full intensity, in (0, 100]; default 99.5.
   * Larger values are clipped, so a few outliers do not wash out the rest of the map. 100 = no clipping.
   */
  clipPercentile?: number;
}

const MODES: readonly DisplayMode[] = ['absolute', 'positive', 'signed'];

/**
 * The p-th percentile (p in [0, 100]) of the values, interpolating linearly between the two nearest
 * ranks (NumPy's default, "linear"). NaN values are ignored; with no other value the result is NaN.
 */
export function percentile(values: ArrayLike<number>, p: number): number {
  if (!(p >= 0 && p <= 100)) {
    throw new RangeError(`percentile: p must be in [0, 100], got ${p}`);
  }
  const sorted = new Float64Array(values.length);
  let n = 0;
  for (let i = 0; i < values.length; i++) {
    const v = values[i] as number;
    if (!Number.isNaN(v)) sorted[n++] = v;
  }
  return percentileOfSorted(sortPrefix(sorted, n), p);
}

function sortPrefix(buffer: Float64Array, n: number): Float64Array {
  const view = buffer.subarray(0, n);
  view.sort(); // typed-array sort is numeric
  return view;
}

function percentileOfSorted(sorted: Float64Array, p: number): number {
  const n = sorted.length;
  if (n === 0) return Number.NaN;
  const rank = (p / 100) * (n - 1);
  const lo = Math.floor(rank);
  const hi = Math.min(lo + 1, n - 1);
  const a = sorted[lo] as number;
  const b = sorted[hi] as number;
  const f = rank - lo;
  // Equal neighbours (including infinities) need no interpolation; avoids Infinity - Infinity.
  if (a === b || f === 0) return a;
  return a + (b - a) * f;
}

/**
 * Maps attribution values to display values (a new Float32Array of the same length):
 * `absolute` -> |v| / scale in [0, 1]; `positive` -> max(v, 0) / scale in [0, 1];
 * `signed` -> v / scale in [-1, 1], so 0 stays 0 and signs are kept.
 *
 * The scale is the `clipPercentile`-th percentile of the relevant magnitudes, and values beyond it are
 * clipped. The relevant magnitudes are the non-zero ones (|v| for `absolute` and `signed`, the positive v
 * for `positive`): exact zeros carry no attribution, and counting them would let a sparse map (a ReLU'd
 * CAM that is zero almost everywhere) get a scale of 0. It also makes the three modes agree on a map with
 * no negative values. A map with nothing to show (all zeros, or no positive value in `positive` mode)
 * gives all zeros, never NaN. NaN inputs display as 0; infinite inputs clip to the end of the range.
 */
export function normalizeForDisplay(values: ArrayLike<number>, opts: DisplayOptions = {}): Float32Array {
  const mode = opts.mode ?? 'absolute';
  if (!MODES.includes(mode)) {
    throw new RangeError(`normalizeForDisplay: mode must be one of ${MODES.join(', ')}, got "${String(mode)}"`);
  }
  const clip = opts.clipPercentile ?? 99.5;
  if (!(clip > 0 && clip <= 100)) {
    throw new RangeError(`normalizeForDisplay: clipPercentile must be in (0, 100], got ${clip}`);
  }

  const n = values.length;
  const magnitudes = new Float64Array(n);
  let m = 0;
  for (let i = 0; i < n; i++) {
    const v = values[i] as number;
    const mag = mode === 'positive' ? v : Math.abs(v);
    if (mag > 0 && mag !== Number.POSITIVE_INFINITY) magnitudes[m++] = mag;
  }
  const scale = percentileOfSorted(sortPrefix(magnitudes, m), clip);
  const hasScale = scale > 0 && Number.isFinite(scale);

  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    const v = values[i] as number;
    let d: number;
    if (mode === 'signed') {
      d = v;
    } else if (mode === 'positive') {
      d = v > 0 ? v : 0;
    } else {
      d = Math.abs(v);
    }
    if (Number.isNaN(d) || d === 0) {
      out[i] = 0;
      continue;
    }
    if (hasScale) d /= scale;
    else if (Number.isFinite(d)) d = 0; // no finite non-zero magnitude to scale by: nothing to show
    out[i] = d > 1 ? 1 : d < -1 ? -1 : d;
  }
  return out;
}

/**
 * Floats to 8-bit grey: lo -> 0, hi -> 255, linear in between, clipped outside. lo and hi default to the
 * minimum and maximum of the finite values. A constant input (hi == lo) gives all zeros; NaN gives 0.
 * hi < lo gives an inverted ramp.
 */
export function toGrayscale8(values: ArrayLike<number>, lo?: number, hi?: number): Uint8ClampedArray {
  let min = lo;
  let max = hi;
  if (min === undefined || max === undefined) {
    let fmin = Number.POSITIVE_INFINITY;
    let fmax = Number.NEGATIVE_INFINITY;
    for (let i = 0; i < values.length; i++) {
      const v = values[i] as number;
      if (!Number.isFinite(v)) continue;
      if (v < fmin) fmin = v;
      if (v > fmax) fmax = v;
    }
    min ??= fmin;
    max ??= fmax;
  }
  const out = new Uint8ClampedArray(values.length);
  const range = max - min;
  if (range === 0 || !Number.isFinite(range)) return out; // (hi < lo inverts the ramp)
  const k = 255 / range;
  for (let i = 0; i < values.length; i++) {
    const v = values[i] as number;
    // Uint8ClampedArray clamps to 0..255, rounds, and stores NaN as 0.
    out[i] = (v - min) * k;
  }
  return out;
}

import * as tf from '@tensorflow/tfjs-core';
import { createCamExplainer } from './cam-base.js';

/** Convergence of the Lanczos iteration: residual ||g v - value v|| at most this times value. */
const LANCZOS_TOLERANCE = 1e-13;

/**
 * Largest ||M||^2 / ||M - mean||^2 for which the Gram matrix of the centred activations is taken
 * from the uncentred one (whose zeros, e.g. after a ReLU, are skipped) minus the mean terms. The
 * subtraction loses about log10 of this ratio digits of the float64 result: at most 3 here, far
 * below the float32 precision of the activations; beyond it the activations are centred first.
 */
const MAX_UNCENTRED_RATIO = 1e3;

/**
 * Relative difference below which two magnitudes count as equal in the sign conventions (far below
 * float32 resolution), so that exact ties (e.g. two positions, whose centred rows are opposite)
 * are not decided by rounding.
 */
const TIE = 1e-9;

/*
 * Scratch buffers reused from call to call (every function here is synchronous, so a buffer is
 * never in use by two calls): a fresh set of typed arrays per image (about 100 kB for a 7x7x128
 * layer) made garbage collection a sizeable part of the cost. Buffers above POOL_LIMIT elements
 * (2 MB of float64) are not kept.
 */
const POOL_LIMIT = 1 << 18;
const poolF64: Float64Array[] = [];
const poolI32: Int32Array[] = [];

/** A Float64Array of n elements from scratch slot `slot`, zero-filled when `zero`. */
function scratchF64(slot: number, n: number, zero: boolean): Float64Array {
  if (n > POOL_LIMIT) return new Float64Array(n);
  let buffer = poolF64[slot];
  if (!buffer || buffer.length < n) poolF64[slot] = buffer = new Float64Array(Math.min(POOL_LIMIT, Math.max(n, 2 * (buffer?.length ?? 0))));
  const view = buffer.subarray(0, n);
  if (zero) view.fill(0);
  return view;
}

/** An Int32Array of n elements from scratch slot `slot`, zero-filled when `zero`. */
function scratchI32(slot: number, n: number, zero: boolean): Int32Array {
  if (n > POOL_LIMIT) return new Int32Array(n);
  let buffer = poolI32[slot];
  if (!buffer || buffer.length < n) poolI32[slot] = buffer = new Int32Array(Math.min(POOL_LIMIT, Math.max(n, 2 * (buffer?.length ?? 0))));
  const view = buffer.subarray(0, n);
  if (zero) view.fill(0);
  return view;
}

/**
 * The unit eigenvector of the largest eigenvalue of a symmetric positive semi-definite d x d
 * matrix g (row-major, float64), and that eigenvalue. Lanczos iteration with full
 * reorthogonalisation from a fixed pseudo-random start: after k steps the largest eigenvalue of
 * the k x k tridiagonal matrix T_k and its eigenvector s (topTridiagonalEigen) give the Ritz
 * pair, whose residual ||g v - value v|| is beta_k |s_k|; the iteration stops when that is below
 * 1e-13 times the eigenvalue (or after d steps, when it is exact). The cost is a few dozen
 * products g v (about 16 for the 49 x 49 matrices of a 7x7 layer), where the power iteration
 * this replaced needed hundreds, and up to its cap of 1000 without converging when the top two
 * eigenvalues are close. The vector's sign makes its largest-magnitude entry positive (the first
 * of equal ones, see TIE), the convention of that power iteration. A zero matrix gives a zero
 * vector and eigenvalue 0.
 */
export function dominantEigenvector(g: Float64Array, d: number): { vector: Float64Array; value: number } {
  let trace = 0;
  for (let i = 0; i < d; i++) trace += g[i * d + i] as number;
  if (!(trace > 0)) return { vector: new Float64Array(d), value: 0 };
  const q = scratchF64(0, d * d, false); // Lanczos vectors q_0, q_1, ..., one per row
  const alpha = scratchF64(1, d, false);
  const beta = scratchF64(2, d, false);
  const r = scratchF64(3, d, false);
  const s = scratchF64(4, d, false);
  const work = scratchF64(5, 3 * d, false);
  // A pseudo-random start (a fixed seed): never the constant vector, which lies in the null space
  // of the Gram matrix of centred rows.
  let seed = 0x9e3779b9;
  for (let i = 0; i < d; i++) {
    seed = (Math.imul(seed ^ (seed >>> 15), 0x2c1b3c6d) + 0x6d2b79f5) >>> 0;
    q[i] = seed / 4294967296 - 0.5;
  }
  scale(q, 0, d, 1 / Math.sqrt(dot(q, 0, q, 0, d)));
  let value = 0;
  let k = 0;
  for (;;) {
    const qk = k * d;
    // r = g q_k - alpha_k q_k - beta_{k-1} q_{k-1}
    matVec(g, d, q, qk, r);
    let a = dot(r, 0, q, qk, d);
    axpy(-a, q, qk, r, d);
    if (k > 0) axpy(-(beta[k - 1] as number), q, qk - d, r, d);
    // Full reorthogonalisation against q_0..q_k (classical Gram-Schmidt), repeated once when it
    // removed most of r (what is left is then mostly rounding error).
    let before = dot(r, 0, r, 0, d);
    let b2 = before;
    for (let pass = 0; pass < 2; pass++) {
      for (let j = 0; j <= k; j++) {
        const h = dot(q, j * d, r, 0, d);
        if (j === k) a += h;
        axpy(-h, q, j * d, r, d);
      }
      b2 = dot(r, 0, r, 0, d);
      if (b2 > 0.5 * before) break;
      before = b2;
    }
    const b = Math.sqrt(b2);
    alpha[k] = a;
    beta[k] = b;
    k++;
    value = topTridiagonalEigen(alpha, beta, k, value, s, work);
    if (b * Math.abs(s[k - 1] as number) <= LANCZOS_TOLERANCE * value || k === d) break;
    q.set(r, k * d);
    scale(q, k * d, d, 1 / b);
  }
  const vector = new Float64Array(d);
  for (let j = 0; j < k; j++) axpy(s[j] as number, q, j * d, vector, d);
  let largest = 0;
  for (let i = 0; i < d; i++) largest = Math.max(largest, Math.abs(vector[i] as number));
  let big = 0;
  while (Math.abs(vector[big] as number) < largest * (1 - TIE)) big++;
  const n = Math.sqrt(dot(vector, 0, vector, 0, d));
  scale(vector, 0, d, (vector[big] as number) < 0 ? -1 / n : 1 / n);
  return { vector, value };
}

/*
 * Small vector kernels: short hot functions get optimised after a few calls, which keeps the
 * first explanations of a process (before the JIT has warmed up) from running interpreted loops.
 */

/** sum_i x[xo + i] y[yo + i], i < n. */
function dot(x: Float64Array, xo: number, y: Float64Array, yo: number, n: number): number {
  let s0 = 0;
  let s1 = 0;
  let i = 0;
  for (; i + 1 < n; i += 2) {
    s0 += (x[xo + i] as number) * (y[yo + i] as number);
    s1 += (x[xo + i + 1] as number) * (y[yo + i + 1] as number);
  }
  if (i < n) s0 += (x[xo + i] as number) * (y[yo + i] as number);
  return s0 + s1;
}

/** y[i] += h x[xo + i], i < n. */
function axpy(h: number, x: Float64Array, xo: number, y: Float64Array, n: number): void {
  for (let i = 0; i < n; i++) y[i] = (y[i] as number) + h * (x[xo + i] as number);
}

/** x[xo + i] *= f, i < n. */
function scale(x: Float64Array, xo: number, n: number, f: number): void {
  for (let i = 0; i < n; i++) x[xo + i] = (x[xo + i] as number) * f;
}

/** out = g x with g d x d (row-major) and x = v[vo .. vo + d - 1]. */
function matVec(g: Float64Array, d: number, v: Float64Array, vo: number, out: Float64Array): void {
  for (let i = 0; i < d; i++) out[i] = dot(g, i * d, v, vo, d);
}

/**
 * The largest eigenvalue of the k x k symmetric tridiagonal matrix T_k with diagonal alpha and
 * off-diagonal beta (beta[i] joins i and i + 1, all positive), given `previous`, the largest
 * eigenvalue of T_{k-1}; its unit eigenvector is written to s.
 *
 * The eigenvalues of T_k strictly interlace those of T_{k-1}, so exactly one lies above
 * `previous`, and it is at most max(previous, alpha_k) + beta_{k-1} (Weyl). On that interval the
 * last pivot of the LDL^T factorisation of T_k - x I, f(x) = alpha_k - x - beta_{k-1}^2 / d_{k-1}(x),
 * is continuous, decreasing and convex, and its root is the eigenvalue: Newton steps on f (with
 * f' from the differentiated recurrence), bisection whenever a step leaves the bracket, to full
 * double precision in a handful of O(k) evaluations. The eigenvector: two steps of inverse
 * iteration with T_k - value I from the all-ones vector (the top eigenvector of such a matrix
 * has entries of one sign, so the start is never orthogonal to it).
 */
function topTridiagonalEigen(alpha: Float64Array, beta: Float64Array, k: number, previous: number, s: Float64Array, work: Float64Array): number {
  if (k === 1) {
    s[0] = 1;
    return alpha[0] as number;
  }
  let lo = previous;
  let hi = Math.max(previous, alpha[k - 1] as number) + (beta[k - 2] as number);
  let x = hi;
  for (let it = 0; it < 200; it++) {
    let d = (alpha[0] as number) - x;
    let dd = -1;
    for (let i = 1; i < k; i++) {
      const b2 = (beta[i - 1] as number) ** 2;
      const inv = 1 / d;
      dd = -1 + b2 * dd * inv * inv;
      d = (alpha[i] as number) - x - b2 * inv;
    }
    if (d > 0) lo = x;
    else hi = x;
    if (d === 0 || !(hi - lo > 2 * Number.EPSILON * Math.abs(hi))) break;
    let next = x - d / dd;
    if (!(next > lo && next < hi)) next = 0.5 * (lo + hi);
    const step = Math.abs(next - x);
    x = next;
    if (step <= Number.EPSILON * Math.abs(x)) break;
  }
  const value = x;
  s.fill(1, 0, k);
  const shift = value + 4 * Number.EPSILON * Math.abs(value);
  for (let it = 0; it < 2; it++) {
    solveShiftedTridiagonal(alpha, beta, k, shift, s, work);
    let n = 0;
    for (let i = 0; i < k; i++) n += (s[i] as number) ** 2;
    n = Math.sqrt(n);
    for (let i = 0; i < k; i++) s[i] = (s[i] as number) / n;
  }
  return value;
}

/** Solves (T - shift I) x = x in place (T tridiagonal as above): elimination with partial pivoting. */
function solveShiftedTridiagonal(alpha: Float64Array, beta: Float64Array, k: number, shift: number, x: Float64Array, work: Float64Array): void {
  const diag = work.subarray(0, k);
  const up = work.subarray(k, 2 * k);
  const up2 = work.subarray(2 * k, 3 * k);
  let scale = 0;
  for (let i = 0; i < k; i++) {
    diag[i] = (alpha[i] as number) - shift;
    up[i] = i < k - 1 ? (beta[i] as number) : 0;
    up2[i] = 0;
    scale = Math.max(scale, Math.abs(alpha[i] as number) + Math.abs(up[i] as number));
  }
  const tiny = Number.EPSILON * scale;
  for (let i = 0; i < k - 1; i++) {
    const low = beta[i] as number; // the sub-diagonal entry below diag[i]
    if (Math.abs(diag[i] as number) >= Math.abs(low)) {
      if (diag[i] === 0) diag[i] = tiny;
      const f = low / (diag[i] as number);
      diag[i + 1] = (diag[i + 1] as number) - f * (up[i] as number);
      x[i + 1] = (x[i + 1] as number) - f * (x[i] as number);
    } else {
      // Swap rows i and i + 1.
      const f = (diag[i] as number) / low;
      diag[i] = low;
      const d1 = diag[i + 1] as number;
      diag[i + 1] = (up[i] as number) - f * d1;
      if (i < k - 2) {
        up2[i] = up[i + 1] as number;
        up[i + 1] = -f * (up2[i] as number);
      }
      up[i] = d1;
      const xi = x[i] as number;
      x[i] = x[i + 1] as number;
      x[i + 1] = xi - f * (x[i + 1] as number);
    }
  }
  if (diag[k - 1] === 0) diag[k - 1] = tiny;
  x[k - 1] = (x[k - 1] as number) / (diag[k - 1] as number);
  x[k - 2] = ((x[k - 2] as number) - (up[k - 2] as number) * (x[k - 1] as number)) / (diag[k - 2] as number);
  for (let i = k - 3; i >= 0; i--) {
    x[i] = ((x[i] as number) - (up[i] as number) * (x[i + 1] as number) - (up2[i] as number) * (x[i + 2] as number)) / (diag[i] as number);
  }
}

/**
 * The Gram matrix of the rows (dual: x x^T, rows x rows) or of the columns (primal: x^T x,
 * cols x cols) of a dense x (rows x cols, row-major), float64, both triangles filled.
 */
function denseGram(x: ArrayLike<number>, rows: number, cols: number, dual: boolean): Float64Array {
  const d = dual ? rows : cols;
  const g = scratchF64(6, d * d, true);
  if (dual) {
    for (let a = 0; a < rows; a++) {
      const oa = a * cols;
      for (let b = a; b < rows; b++) {
        const ob = b * cols;
        let s0 = 0;
        let s1 = 0;
        let j = 0;
        for (; j + 1 < cols; j += 2) {
          s0 += (x[oa + j] as number) * (x[ob + j] as number);
          s1 += (x[oa + j + 1] as number) * (x[ob + j + 1] as number);
        }
        if (j < cols) s0 += (x[oa + j] as number) * (x[ob + j] as number);
        g[a * d + b] = s0 + s1;
      }
    }
  } else {
    for (let i = 0; i < rows; i++) {
      const oi = i * cols;
      for (let a = 0; a < cols; a++) {
        const xa = x[oi + a] as number;
        if (xa === 0) continue;
        const row = a * d;
        for (let b = a; b < cols; b++) g[row + b] = (g[row + b] as number) + xa * (x[oi + b] as number);
      }
    }
  }
  for (let a = 0; a < d; a++) for (let b = 0; b < a; b++) g[a * d + b] = g[b * d + a] as number;
  return g;
}

/**
 * The same Gram matrix from the non-zero entries of M only (activations after a ReLU: mostly
 * zeros), gathered per line: per channel (dual) or per position (primal); line l holds count[l]
 * entries (index within the line, value) from slot l * stride on. Each line adds the outer
 * product of its entries. For the dual, also t = M mu (mu: the channel means), which the
 * centring needs.
 */
function sparseGram(d: number, lines: number, stride: number, count: Int32Array, idx: Int32Array, val: Float64Array, mean: Float64Array | null): { g: Float64Array; t: Float64Array } {
  const g = scratchF64(6, d * d, true);
  const t = scratchF64(7, mean ? d : 0, true);
  for (let l = 0; l < lines; l++) {
    const first = l * stride;
    const end = first + (count[l] as number);
    const mu = mean ? (mean[l] as number) : 0;
    for (let p = first; p < end; p++) {
      const vp = val[p] as number;
      const ip = idx[p] as number;
      addScaled(g, ip * d, vp, idx, val, p, end);
      if (mean) t[ip] = (t[ip] as number) + vp * mu;
    }
  }
  for (let a = 0; a < d; a++) for (let b = 0; b < a; b++) g[a * d + b] = g[b * d + a] as number;
  return { g, t };
}

/** g[row + idx[q]] += v val[q] for q in [from, to): one row of a sparse outer product. */
function addScaled(g: Float64Array, row: number, v: number, idx: Int32Array, val: Float64Array, from: number, to: number): void {
  for (let q = from; q < to; q++) {
    const at = row + (idx[q] as number);
    g[at] = (g[at] as number) + v * (val[q] as number);
  }
}

/** g[row + b] += c + f u[b], b < d. */
function addToRow(g: Float64Array, row: number, d: number, c: number, f: number, u: Float64Array): void {
  for (let b = 0; b < d; b++) g[row + b] = (g[row + b] as number) + c + f * (u[b] as number);
}

/**
 * Row i of M (entries o .. o + cols - 1): adds it to the channel sums and gathers its entries
 * into the lines (see principalProjection); returns its sum of squares.
 */
function gatherRow(
  m: ArrayLike<number>,
  o: number,
  i: number,
  cols: number,
  dual: boolean,
  stride: number,
  mean: Float64Array,
  count: Int32Array,
  idx: Int32Array,
  val: Float64Array,
): number {
  let total = 0;
  let nz = 0;
  for (let j = 0; j < cols; j++) {
    const v = m[o + j] as number;
    mean[j] = (mean[j] as number) + v;
    total += v * v;
    const keep = v !== 0 ? 1 : 0;
    if (dual) {
      const at = j * stride + (count[j] as number);
      idx[at] = i;
      val[at] = v;
      count[j] = (count[j] as number) + keep;
    } else {
      const at = i * stride + nz;
      idx[at] = j;
      val[at] = v;
      nz += keep;
    }
  }
  if (!dual) count[i] = nz;
  return total;
}

/**
 * The projection of an activation matrix M (rows = h*w positions, cols = K channels, row-major)
 * on its first principal component: M is centred per channel (pytorch-grad-cam's
 * get_2d_projection centres before the SVD), then projected on its first right-singular vector
 * v, i.e. the dominant eigenvector of C^T C (C the centred M). When there are fewer positions
 * than channels the smaller Gram matrix C C^T is used instead: its dominant eigenvector u gives
 * the same projection, C v = sqrt(lambda) u. The singular vector's sign is arbitrary; it is fixed
 * so that the side of larger magnitude is positive (flipped when |min| > |max|, the rule of
 * pytorch-grad-cam's sign-corrected projection), which makes the map reproducible across SVD
 * implementations; on a tie (within TIE) the eigenvector's own sign convention stays. Computed
 * in float64.
 *
 * The Gram matrix of C is formed from M, skipping its zeros when most of it is zero (a ReLU
 * output), as C C^T = M M^T - t 1^T - 1 t^T + |mu|^2 1 1^T (t = M mu) or
 * C^T C = M^T M - rows mu mu^T, with mu the channel means; when the means dominate (see
 * MAX_UNCENTRED_RATIO) it is formed from C.
 */
export function principalProjection(m: ArrayLike<number>, rows: number, cols: number): Float64Array {
  const dual = cols > rows;
  const d = dual ? rows : cols;
  // One pass: channel sums, sum of squares, and the non-zero entries gathered per line (channel
  // for the dual, position for the primal; `stride` slots per line, one spare). The gathering
  // is branch-free: each entry is written to its line's next slot, which only a non-zero keeps.
  const mean = scratchF64(8, cols, true);
  const lines = dual ? cols : rows;
  const stride = (dual ? rows : cols) + 1;
  const count = scratchI32(0, lines, true);
  const idx = scratchI32(1, lines * stride, false);
  const val = scratchF64(9, lines * stride, false);
  let total = 0;
  for (let i = 0; i < rows; i++) total += gatherRow(m, i * cols, i, cols, dual, stride, mean, count, idx, val);
  let nonZero = 0;
  for (let l = 0; l < lines; l++) nonZero += count[l] as number;
  let mm = 0;
  for (let j = 0; j < cols; j++) {
    mean[j] = (mean[j] as number) / rows;
    mm += (mean[j] as number) ** 2;
  }
  // ||C||^2 = ||M||^2 - rows |mu|^2, good to about 1e-16 ||M||^2: enough to choose the path.
  const uncentred = total - rows * mm > total / MAX_UNCENTRED_RATIO;
  let g: Float64Array;
  let x: ArrayLike<number> = m;
  if (uncentred) {
    let t: Float64Array;
    if (2 * nonZero <= rows * cols) ({ g, t } = sparseGram(d, lines, stride, count, idx, val, dual ? mean : null));
    else {
      g = denseGram(m, rows, cols, dual);
      t = scratchF64(7, dual ? rows : 0, true);
      if (dual) {
        for (let i = 0; i < rows; i++) {
          const o = i * cols;
          let acc = 0;
          for (let j = 0; j < cols; j++) acc += (m[o + j] as number) * (mean[j] as number);
          t[i] = acc;
        }
      }
    }
    if (dual) {
      // C C^T = M M^T - t 1^T - 1 t^T + |mu|^2 1 1^T with t = M mu.
      for (let a = 0; a < d; a++) addToRow(g, a * d, d, mm - (t[a] as number), -1, t);
    } else {
      // C^T C = M^T M - rows mu mu^T.
      for (let a = 0; a < d; a++) addToRow(g, a * d, d, 0, -rows * (mean[a] as number), mean);
    }
  } else {
    const c = new Float64Array(rows * cols);
    let centred = 0;
    for (let i = 0; i < rows; i++) {
      const o = i * cols;
      for (let j = 0; j < cols; j++) {
        const v = (m[o + j] as number) - (mean[j] as number);
        c[o + j] = v;
        centred += v * v;
      }
    }
    // No variation: no principal direction, a zero map.
    if (!(centred > 0)) return new Float64Array(rows);
    g = denseGram(c, rows, cols, dual);
    x = c;
  }
  const { vector, value } = dominantEigenvector(g, d);
  const p = new Float64Array(rows);
  if (dual) {
    const sigma = Math.sqrt(value);
    for (let i = 0; i < rows; i++) p[i] = sigma * (vector[i] as number);
  } else {
    // C v, or M v - (mu . v) 1 from M.
    let shift = 0;
    if (uncentred) for (let j = 0; j < cols; j++) shift += (mean[j] as number) * (vector[j] as number);
    for (let i = 0; i < rows; i++) {
      const o = i * cols;
      let acc = 0;
      for (let j = 0; j < cols; j++) acc += (x[o + j] as number) * (vector[j] as number);
      p[i] = acc - shift;
    }
  }
  let lo = Infinity;
  let hi = -Infinity;
  for (let i = 0; i < rows; i++) {
    lo = Math.min(lo, p[i] as number);
    hi = Math.max(hi, p[i] as number);
  }
  if (Math.abs(lo) > Math.abs(hi) * (1 + TIE)) for (let i = 0; i < rows; i++) p[i] = -(p[i] as number);
  return p;
}

/**
 * Eigen-CAM (Muhammad and Yeasin 2020): the layer's activations projected on their first
 * principal component, per image. No gradients and no target: the map is the same for every
 * class. The sign is fixed so that the larger-magnitude side is positive (see
 * principalProjection); with the default ReLU the map keeps that side.
 */
export const eigenCam = createCamExplainer({
  id: 'eigen-cam',
  name: 'Eigen-CAM',
  description:
    "Projects the layer's feature maps on their first principal component: a class-independent map of the dominant activation pattern, with no gradients and no class scores.",
  paper: {
    title: 'Eigen-CAM: Class Activation Map using Principal Components',
    authors: 'Muhammad, Yeasin',
    year: 2020,
    url: 'https://arxiv.org/abs/2008.00299',
  },
  requiresGradients: false,
  camImage: async ({ activations }) => {
    const [n, h, w, k] = activations.shape;
    const data = await activations.data();
    const out = new Float32Array(n * h * w);
    for (let b = 0; b < n; b++) out.set(principalProjection(data.subarray(b * h * w * k, (b + 1) * h * w * k), h * w, k), b * h * w);
    return tf.tensor3d(out, [n, h, w]);
  },
});

/**
 * Small dense linear algebra in Float64 on the JS side: the surrogate models have at most a few
 * hundred features, so the normal equations are solved here rather than on a tf.js backend
 * (which would be float32 and, on wasm/webgl, slower for such sizes).
 *
 * Matrices are row-major Float64Arrays with an explicit size.
 */

/**
 * Cholesky factorisation of a symmetric positive definite `n x n` matrix `a` (row-major; only
 * the lower triangle is read). Returns the lower factor L (row-major, upper part zero) with
 * `a = L L^T`, or null when a pivot is not positive (the matrix is not positive definite).
 */
export function cholesky(a: Float64Array, n: number): Float64Array | null {
  const l = new Float64Array(n * n);
  for (let j = 0; j < n; j++) {
    let d = a[j * n + j] as number;
    for (let k = 0; k < j; k++) {
      const v = l[j * n + k] as number;
      d -= v * v;
    }
    if (!(d > 0) || !Number.isFinite(d)) return null;
    const ljj = Math.sqrt(d);
    l[j * n + j] = ljj;
    for (let i = j + 1; i < n; i++) {
      let s = a[i * n + j] as number;
      for (let k = 0; k < j; k++) s -= (l[i * n + k] as number) * (l[j * n + k] as number);
      l[i * n + j] = s / ljj;
    }
  }
  return l;
}

/** Solves `L L^T x = b` given the Cholesky factor L. */
export function choleskySolve(l: Float64Array, n: number, b: ArrayLike<number>): Float64Array {
  const y = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    let s = b[i] as number;
    for (let k = 0; k < i; k++) s -= (l[i * n + k] as number) * (y[k] as number);
    y[i] = s / (l[i * n + i] as number);
  }
  const x = new Float64Array(n);
  for (let i = n - 1; i >= 0; i--) {
    let s = y[i] as number;
    for (let k = i + 1; k < n; k++) s -= (l[k * n + i] as number) * (x[k] as number);
    x[i] = s / (l[i * n + i] as number);
  }
  return x;
}

/**
 * Solves the square system `a x = b` by Gaussian elimination with partial pivoting. Returns
 * null when the matrix is singular (a pivot below `tol` times the largest entry).
 */
export function gaussSolve(a: Float64Array, n: number, b: ArrayLike<number>, tol = 1e-12): Float64Array | null {
  const m = Float64Array.from(a);
  const x = Float64Array.from(b as ArrayLike<number>);
  let scale = 0;
  for (const v of m) scale = Math.max(scale, Math.abs(v));
  if (scale === 0) return n === 0 ? x : null;
  for (let c = 0; c < n; c++) {
    let p = c;
    let best = Math.abs(m[c * n + c] as number);
    for (let r = c + 1; r < n; r++) {
      const v = Math.abs(m[r * n + c] as number);
      if (v > best) {
        best = v;
        p = r;
      }
    }
    if (!(best > tol * scale)) return null;
    if (p !== c) {
      for (let k = 0; k < n; k++) {
        const t = m[c * n + k] as number;
        m[c * n + k] = m[p * n + k] as number;
        m[p * n + k] = t;
      }
      const t = x[c] as number;
      x[c] = x[p] as number;
      x[p] = t;
    }
    const piv = m[c * n + c] as number;
    for (let r = c + 1; r < n; r++) {
      const f = (m[r * n + c] as number) / piv;
      if (f === 0) continue;
      for (let k = c; k < n; k++) m[r * n + k] = (m[r * n + k] as number) - f * (m[c * n + k] as number);
      x[r] = (x[r] as number) - f * (x[c] as number);
    }
  }
  for (let r = n - 1; r >= 0; r--) {
    let s = x[r] as number;
    for (let k = r + 1; k < n; k++) s -= (m[r * n + k] as number) * (x[k] as number);
    x[r] = s / (m[r * n + r] as number);
  }
  return x;
}

/**
 * Solves a symmetric positive semi-definite system `a x = b` (normal equations). Tries
 * Cholesky; when the matrix is singular (a feature that never varies across the samples, more
 * features than samples), adds a small ridge `eps * mean(diag)` to the diagonal, growing it
 * until the factorisation succeeds. That gives (nearly) the minimum-norm least-squares
 * solution instead of failing.
 */
export function solveSpd(a: Float64Array, n: number, b: ArrayLike<number>): Float64Array {
  if (n === 0) return new Float64Array(0);
  const l = cholesky(a, n);
  if (l) return choleskySolve(l, n, b);
  let trace = 0;
  for (let i = 0; i < n; i++) trace += Math.abs(a[i * n + i] as number);
  const base = trace > 0 ? trace / n : 1;
  for (let eps = 1e-12; eps <= 1e6; eps *= 100) {
    const j = Float64Array.from(a);
    for (let i = 0; i < n; i++) j[i * n + i] = (j[i * n + i] as number) + eps * base;
    const lj = cholesky(j, n);
    if (lj) return choleskySolve(lj, n, b);
  }
  throw new Error('cnn-xai internal: the surrogate normal equations could not be solved (non-finite values?)');
}

/** The result of a weighted linear fit `y ~ intercept + X coef`. */
export interface LinearFit {
  coef: Float64Array;
  intercept: number;
  /** Weighted coefficient of determination `1 - SS_res / SS_tot` (sklearn's `score` with sample weights). */
  r2: number;
}

/**
 * Weighted ridge regression with an unpenalised intercept, as sklearn's
 * `Ridge(alpha, fit_intercept=True).fit(X, y, sample_weight=w)`: minimises
 * `sum_i w_i (y_i - b - x_i . coef)^2 + alpha |coef|^2`.
 *
 * `x` is `rows x cols` row-major (any numbers, here 0/1 coalitions), `y` and `w` have `rows`
 * entries. With `alpha = 0` it is weighted least squares (singular designs get a tiny ridge).
 */
export function weightedRidge(
  x: ArrayLike<number>,
  rows: number,
  cols: number,
  y: ArrayLike<number>,
  w: ArrayLike<number>,
  alpha: number,
): LinearFit {
  let sw = 0;
  let my = 0;
  const mx = new Float64Array(cols);
  for (let i = 0; i < rows; i++) {
    const wi = w[i] as number;
    sw += wi;
    my += wi * (y[i] as number);
    for (let j = 0; j < cols; j++) mx[j] = (mx[j] as number) + wi * (x[i * cols + j] as number);
  }
  if (!(sw > 0)) throw new Error('cnn-xai internal: the sample weights sum to zero');
  my /= sw;
  for (let j = 0; j < cols; j++) mx[j] = (mx[j] as number) / sw;
  // Normal equations of the centred problem.
  const a = new Float64Array(cols * cols);
  const b = new Float64Array(cols);
  const xc = new Float64Array(cols);
  for (let i = 0; i < rows; i++) {
    const wi = w[i] as number;
    if (wi === 0) continue;
    for (let j = 0; j < cols; j++) xc[j] = (x[i * cols + j] as number) - (mx[j] as number);
    const yc = (y[i] as number) - my;
    for (let j = 0; j < cols; j++) {
      const wxj = wi * (xc[j] as number);
      if (wxj === 0) continue;
      b[j] = (b[j] as number) + wxj * yc;
      for (let k = 0; k <= j; k++) a[j * cols + k] = (a[j * cols + k] as number) + wxj * (xc[k] as number);
    }
  }
  for (let j = 0; j < cols; j++) {
    for (let k = 0; k < j; k++) a[k * cols + j] = a[j * cols + k] as number;
    a[j * cols + j] = (a[j * cols + j] as number) + alpha;
  }
  const coef = solveSpd(a, cols, b);
  let intercept = my;
  for (let j = 0; j < cols; j++) intercept -= (mx[j] as number) * (coef[j] as number);
  let ssRes = 0;
  let ssTot = 0;
  for (let i = 0; i < rows; i++) {
    const wi = w[i] as number;
    let pred = intercept;
    for (let j = 0; j < cols; j++) pred += (x[i * cols + j] as number) * (coef[j] as number);
    const yi = y[i] as number;
    ssRes += wi * (yi - pred) ** 2;
    ssTot += wi * (yi - my) ** 2;
  }
  // A constant target is fitted exactly (sklearn's r2_score gives 1 for a perfect fit of it).
  const r2 = ssTot > 0 ? 1 - ssRes / ssTot : ssRes <= 1e-24 ? 1 : 0;
  return { coef, intercept, r2 };
}

/**
 * KernelSHAP's constrained fit: minimises `sum_i w_i (y_i - base - z_i . phi)^2` subject to
 * `sum(phi) = total` (efficiency), with `base = f(baseline)` and `total = f(x) - f(baseline)`.
 * As in SHAP's KernelExplainer, the constraint is used to eliminate the last feature:
 * `phi_last = total - sum(others)`, and the remaining ones come from an unconstrained weighted
 * least-squares fit (no intercept) of `y - base - z_last * total` on `z_j - z_last`.
 * The efficiency sum then holds to float rounding, whatever the samples.
 */
export function constrainedShapleyFit(
  z: ArrayLike<number>,
  rows: number,
  m: number,
  y: ArrayLike<number>,
  w: ArrayLike<number>,
  base: number,
  total: number,
): Float64Array {
  const phi = new Float64Array(m);
  if (m === 0) return phi;
  if (m === 1) {
    phi[0] = total;
    return phi;
  }
  const k = m - 1;
  const a = new Float64Array(k * k);
  const b = new Float64Array(k);
  const e = new Float64Array(k);
  for (let i = 0; i < rows; i++) {
    const wi = w[i] as number;
    if (wi === 0) continue;
    const last = z[i * m + k] as number;
    const t = (y[i] as number) - base - last * total;
    for (let j = 0; j < k; j++) e[j] = (z[i * m + j] as number) - last;
    for (let j = 0; j < k; j++) {
      const we = wi * (e[j] as number);
      if (we === 0) continue;
      b[j] = (b[j] as number) + we * t;
      for (let c = 0; c <= j; c++) a[j * k + c] = (a[j * k + c] as number) + we * (e[c] as number);
    }
  }
  for (let j = 0; j < k; j++) for (let c = 0; c < j; c++) a[c * k + j] = a[j * k + c] as number;
  const sol = solveSpd(a, k, b);
  let sum = 0;
  for (let j = 0; j < k; j++) {
    phi[j] = sol[j] as number;
    sum += sol[j] as number;
  }
  phi[k] = total - sum;
  return phi;
}

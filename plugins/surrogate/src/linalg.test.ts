import { describe, expect, it } from 'vitest';
import { createRandom } from '@cnn-xai/core';
import { cholesky, choleskySolve, constrainedShapleyFit, gaussSolve, solveSpd, weightedRidge } from './linalg.js';

function matVec(a: Float64Array, n: number, x: ArrayLike<number>): Float64Array {
  const out = new Float64Array(n);
  for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) out[i] = (out[i] as number) + (a[i * n + j] as number) * (x[j] as number);
  return out;
}

/** A random symmetric positive definite matrix B^T B + I. */
function randomSpd(n: number, seed: number): Float64Array {
  const r = createRandom(seed);
  const b = Float64Array.from({ length: n * n }, () => r.normal());
  const a = new Float64Array(n * n);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < n; j++) {
      let s = i === j ? 1 : 0;
      for (let k = 0; k < n; k++) s += (b[k * n + i] as number) * (b[k * n + j] as number);
      a[i * n + j] = s;
    }
  }
  return a;
}

describe('dense solvers', () => {
  it('Cholesky: a 2x2 case by hand', () => {
    // [[4, 2], [2, 3]] = L L^T with L = [[2, 0], [1, sqrt 2]].
    const l = cholesky(Float64Array.from([4, 2, 2, 3]), 2) as Float64Array;
    expect(Array.from(l)).toEqual([2, 0, 1, Math.SQRT2]);
    // [[4, 2], [2, 3]] x = [8, 7]  =>  x = [1.25, 1.5].
    const x = choleskySolve(l, 2, [8, 7]);
    expect(x[0]).toBeCloseTo(1.25, 14);
    expect(x[1]).toBeCloseTo(1.5, 14);
  });

  it('Cholesky refuses a matrix that is not positive definite', () => {
    expect(cholesky(Float64Array.from([1, 2, 2, 1]), 2)).toBeNull();
    expect(cholesky(Float64Array.from([1, 1, 1, 1]), 2)).toBeNull();
  });

  it('Cholesky and Gaussian elimination agree on a random 40x40 SPD system (residual < 1e-9)', () => {
    const n = 40;
    const a = randomSpd(n, 3);
    const b = Float64Array.from({ length: n }, (_, i) => Math.sin(i));
    const x1 = choleskySolve(cholesky(a, n) as Float64Array, n, b);
    const x2 = gaussSolve(a, n, b) as Float64Array;
    const r1 = matVec(a, n, x1);
    for (let i = 0; i < n; i++) {
      expect(Math.abs((r1[i] as number) - (b[i] as number))).toBeLessThan(1e-9);
      expect(Math.abs((x1[i] as number) - (x2[i] as number))).toBeLessThan(1e-9);
    }
  });

  it('Gaussian elimination pivots (zero on the diagonal) and reports a singular matrix', () => {
    const x = gaussSolve(Float64Array.from([0, 1, 1, 0]), 2, [2, 3]) as Float64Array;
    expect(Array.from(x)).toEqual([3, 2]);
    // [[1, 2, 3], [2, 4, 6], [1, 0, 1]] has rank 2.
    expect(gaussSolve(Float64Array.from([1, 2, 3, 2, 4, 6, 1, 0, 1]), 3, [1, 2, 3])).toBeNull();
    // A non-symmetric system: [[2, 1, -1], [-3, -1, 2], [-2, 1, 2]] x = [8, -11, -3]  =>  x = [2, 3, -1].
    const y = gaussSolve(Float64Array.from([2, 1, -1, -3, -1, 2, -2, 1, 2]), 3, [8, -11, -3]) as Float64Array;
    expect(y[0]).toBeCloseTo(2, 12);
    expect(y[1]).toBeCloseTo(3, 12);
    expect(y[2]).toBeCloseTo(-1, 12);
  });

  it('solveSpd falls back to a tiny ridge on a singular system (the minimum-norm solution)', () => {
    // [[1, 1], [1, 1]] x = [2, 2]: every x with x0 + x1 = 2 solves it; the smallest is [1, 1].
    const x = solveSpd(Float64Array.from([1, 1, 1, 1]), 2, [2, 2]);
    expect(x[0]).toBeCloseTo(1, 6);
    expect(x[1]).toBeCloseTo(1, 6);
    expect(solveSpd(new Float64Array(0), 0, []).length).toBe(0);
  });
});

describe('weighted ridge regression', () => {
  it('a one-feature case by hand: x = [0, 1], y = [0, 2], alpha = 1', () => {
    // Centred: x = [-1/2, 1/2], y = [-1, 1]; coef = Sxy / (Sxx + alpha) = 1 / (1/2 + 1) = 2/3;
    // intercept = 1 - 1/2 * 2/3 = 2/3; predictions [2/3, 4/3]; R^2 = 1 - (8/9) / 2 = 5/9.
    const fit = weightedRidge([0, 1], 2, 1, [0, 2], [1, 1], 1);
    expect(fit.coef[0]).toBeCloseTo(2 / 3, 14);
    expect(fit.intercept).toBeCloseTo(2 / 3, 14);
    expect(fit.r2).toBeCloseTo(5 / 9, 14);
  });

  it('weights: a zero weight removes a row, a weight of 2 counts it twice', () => {
    const x = [0, 1, 2, 1];
    const y = [1, 2, 9, 2];
    const a = weightedRidge(x, 4, 1, y, [1, 1, 0, 1], 0);
    expect(a.coef[0]).toBeCloseTo(1, 12);
    expect(a.intercept).toBeCloseTo(1, 12);
    const b = weightedRidge([0, 1], 2, 1, [1, 2], [1, 2], 0);
    expect(b.coef[0]).toBeCloseTo(1, 12);
    expect(b.r2).toBeCloseTo(1, 12);
  });

  it('recovers an exact linear model with alpha = 0 (R^2 = 1), and shrinks it with alpha > 0', () => {
    const r = createRandom(5);
    const rows = 60;
    const cols = 6;
    const coef = [1.5, -2, 0, 0.25, 3, -0.75];
    const x = Float64Array.from({ length: rows * cols }, () => (r.next() < 0.5 ? 1 : 0));
    const y = Float64Array.from({ length: rows }, (_, i) => 0.3 + coef.reduce((s, c, j) => s + c * (x[i * cols + j] as number), 0));
    const w = Float64Array.from({ length: rows }, () => 0.1 + r.next());
    const fit = weightedRidge(x, rows, cols, y, w, 0);
    coef.forEach((c, j) => expect(fit.coef[j]).toBeCloseTo(c, 10));
    expect(fit.intercept).toBeCloseTo(0.3, 10);
    expect(fit.r2).toBeCloseTo(1, 12);
    const shrunk = weightedRidge(x, rows, cols, y, w, 10);
    const norm = (v: ArrayLike<number>): number => Math.hypot(...Array.from(v));
    expect(norm(shrunk.coef)).toBeLessThan(norm(fit.coef));
    expect(shrunk.r2).toBeLessThan(1);
  });
});

describe('constrained Shapley fit', () => {
  it('the values sum to the total exactly, and an additive target is recovered', () => {
    const r = createRandom(9);
    const m = 7;
    const rows = 40;
    const w = [0.5, -1, 2, 0, 1.25, -0.5, 3];
    const z = Uint8Array.from({ length: rows * m }, () => (r.next() < 0.5 ? 1 : 0));
    const base = -0.4;
    const total = w.reduce((a, b) => a + b, 0);
    const y = Float64Array.from({ length: rows }, (_, i) => base + w.reduce((s, c, j) => s + c * (z[i * m + j] as number), 0));
    const weights = Float64Array.from({ length: rows }, () => r.next());
    const phi = constrainedShapleyFit(z, rows, m, y, weights, base, total);
    w.forEach((c, j) => expect(phi[j]).toBeCloseTo(c, 10));
    // A non-additive target: the constraint still holds to rounding.
    const y2 = Float64Array.from(y, (v, i) => v + Math.sin(3 * i));
    const phi2 = constrainedShapleyFit(z, rows, m, y2, weights, base, 2.5);
    expect(Math.abs(phi2.reduce((a, b) => a + b, 0) - 2.5)).toBeLessThan(1e-12);
    expect(Array.from(constrainedShapleyFit(new Uint8Array(0), 0, 1, [], [], 0, 4))).toEqual([4]);
  });
});

import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { describe, expect, it } from 'vitest';
import { createRegistry, explain, ModelTap, selectBackend } from '@cnn-xai/core';
import { expectClose, inputFor, tinyVgg } from '@cnn-xai/testing';
import { dominantEigenvector, eigenCam, principalProjection } from './index.js';

/*
 * The numerical core of Eigen-CAM against independent references: the dominant eigenpair of
 * small matrices by hand, and the projection against a one-sided Jacobi SVD of the centred
 * activations (pytorch-grad-cam takes the SVD; no Gram matrix, no Lanczos).
 */

/** A seeded uniform stream in [-0.5, 0.5). */
function stream(seed: number): () => number {
  let s = seed >>> 0 || 1;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 4294967296 - 0.5;
  };
}

/**
 * Reference: C = M minus its column means; one-sided Jacobi (Hestenes) orthogonalises the columns
 * of C by plane rotations, C V = U S; the column of largest norm is sigma_1 u_1 = C v_1, the
 * projection on the first right-singular vector. Then pytorch-grad-cam's sign rule.
 */
function svdProjection(m: ArrayLike<number>, rows: number, cols: number): number[] {
  const a: number[][] = Array.from({ length: cols }, (_, j) => {
    const col = Array.from({ length: rows }, (_, i) => m[i * cols + j] as number);
    const mu = col.reduce((s, v) => s + v, 0) / rows;
    return col.map((v) => v - mu);
  });
  const dot = (x: number[], y: number[]) => x.reduce((s, v, i) => s + v * (y[i] as number), 0);
  for (let sweep = 0; sweep < 60; sweep++) {
    let rotated = false;
    for (let p = 0; p < cols; p++) {
      for (let q = p + 1; q < cols; q++) {
        const ap = a[p] as number[];
        const aq = a[q] as number[];
        const alpha = dot(ap, ap);
        const beta = dot(aq, aq);
        const gamma = dot(ap, aq);
        if (Math.abs(gamma) <= 1e-15 * Math.sqrt(alpha * beta) || gamma === 0) continue;
        rotated = true;
        const zeta = (beta - alpha) / (2 * gamma);
        const t = Math.sign(zeta || 1) / (Math.abs(zeta) + Math.sqrt(1 + zeta * zeta));
        const c = 1 / Math.sqrt(1 + t * t);
        const s = c * t;
        for (let i = 0; i < rows; i++) {
          const x = ap[i] as number;
          const y = aq[i] as number;
          ap[i] = c * x - s * y;
          aq[i] = s * x + c * y;
        }
      }
    }
    if (!rotated) break;
  }
  let best = a[0] as number[];
  for (const col of a) if (dot(col, col) > dot(best, best)) best = col;
  const lo = Math.min(...best);
  const hi = Math.max(...best);
  return Math.abs(lo) > Math.abs(hi) ? best.map((v) => -v) : best.slice();
}

/** A random rows x cols matrix: dense, ReLU-like (about 3/4 zeros) or with a large offset per channel. */
function matrix(rows: number, cols: number, kind: 'dense' | 'relu' | 'offset', seed: number): Float32Array {
  const next = stream(seed);
  const m = new Float32Array(rows * cols);
  for (let i = 0; i < rows; i++) {
    for (let j = 0; j < cols; j++) {
      const v = next() + 0.3 * Math.sin(i * 0.7 + j * 0.3);
      m[i * cols + j] = kind === 'relu' ? Math.max(0, v - 0.25) : kind === 'offset' ? 500 * (1 + (j % 3)) + v : v;
    }
  }
  return m;
}

describe('dominantEigenvector (Lanczos)', () => {
  it('2x2 [[2, 1], [1, 2]]: eigenvalue 3, vector (1, 1) / sqrt(2)', () => {
    const { vector, value } = dominantEigenvector(Float64Array.from([2, 1, 1, 2]), 2);
    expect(value).toBeCloseTo(3, 13);
    expectClose(vector, [Math.SQRT1_2, Math.SQRT1_2], { rtol: 1e-13, atol: 0 });
  });

  it('3x3 [[2, -1, 0], [-1, 2, -1], [0, -1, 2]]: eigenvalue 2 + sqrt(2), vector (-1, sqrt(2), -1) / 2', () => {
    // The vector's largest-magnitude entry is made positive.
    const { vector, value } = dominantEigenvector(Float64Array.from([2, -1, 0, -1, 2, -1, 0, -1, 2]), 3);
    expect(value).toBeCloseTo(2 + Math.SQRT2, 13);
    expectClose(vector, [-0.5, Math.SQRT1_2, -0.5], { rtol: 1e-13, atol: 0 });
  });

  it('diagonal, rank-one, 1x1 and zero matrices', () => {
    const diag = dominantEigenvector(Float64Array.from([1, 0, 0, 0, 5, 0, 0, 0, 3]), 3);
    expect(diag.value).toBeCloseTo(5, 13);
    expectClose(diag.vector, [0, 1, 0], { atol: 1e-13 });
    // u u^T with u = (1, -2, 2) / 3 and eigenvalue 4.
    const u = [1 / 3, -2 / 3, 2 / 3];
    const rank1 = Float64Array.from({ length: 9 }, (_, i) => 4 * (u[Math.floor(i / 3)] as number) * (u[i % 3] as number));
    const r = dominantEigenvector(rank1, 3);
    expect(r.value).toBeCloseTo(4, 13);
    expectClose(r.vector, [-1 / 3, 2 / 3, -2 / 3], { rtol: 1e-12, atol: 0 });
    expect(dominantEigenvector(Float64Array.from([7]), 1)).toEqual({ vector: Float64Array.from([1]), value: 7 });
    expect(dominantEigenvector(new Float64Array(4), 2)).toEqual({ vector: new Float64Array(2), value: 0 });
  });

  it('a random 60x60 Gram matrix with close top eigenvalues: g v = value v to 1e-12', () => {
    const next = stream(7);
    const d = 60;
    const x = Array.from({ length: d * 40 }, () => next());
    const g = new Float64Array(d * d);
    for (let a = 0; a < d; a++) for (let b = 0; b < d; b++) for (let t = 0; t < 40; t++) g[a * d + b] = (g[a * d + b] as number) + (x[a * 40 + t] as number) * (x[b * 40 + t] as number);
    const { vector, value } = dominantEigenvector(g, d);
    let residual = 0;
    for (let a = 0; a < d; a++) {
      let acc = 0;
      for (let b = 0; b < d; b++) acc += (g[a * d + b] as number) * (vector[b] as number);
      residual = Math.max(residual, Math.abs(acc - value * (vector[a] as number)));
    }
    expect(residual).toBeLessThan(1e-12 * value);
    // The largest: no unit vector has a larger Rayleigh quotient.
    for (let t = 0; t < 20; t++) {
      const v = Array.from({ length: d }, () => next());
      const n2 = v.reduce((s, e) => s + e * e, 0);
      let q = 0;
      for (let a = 0; a < d; a++) for (let b = 0; b < d; b++) q += (v[a] as number) * (g[a * d + b] as number) * (v[b] as number);
      expect(q / n2).toBeLessThanOrEqual(value * (1 + 1e-12));
    }
  });
});

describe('principalProjection against a Jacobi SVD of the centred matrix', () => {
  const shapes: Array<[number, number]> = [
    [49, 128], // fewer positions than channels: the dual (positions) Gram matrix
    [36, 20], // the primal (channels) Gram matrix
    [9, 9],
    [5, 3],
  ];
  for (const [rows, cols] of shapes) {
    for (const kind of ['dense', 'relu', 'offset'] as const) {
      it(`${rows}x${cols} ${kind}`, () => {
        const m = matrix(rows, cols, kind, rows * 1000 + cols + kind.length);
        expectClose(principalProjection(m, rows, cols), svdProjection(m, rows, cols), { rtol: 1e-9, atol: 0, what: `${rows}x${cols} ${kind}` });
      });
    }
  }

  it('converges when the top two singular values are within 0.2% (the power iteration it replaced was off by 1e-4 here)', () => {
    // Two planted components of nearly equal strength (sigma_2 / sigma_1 = 0.998), an offset and
    // a little noise.
    const rows = 49;
    const cols = 64;
    const next = stream(3);
    const m = new Float64Array(rows * cols);
    for (let i = 0; i < rows; i++) {
      for (let j = 0; j < cols; j++) {
        const t = (2 * Math.PI * i) / rows;
        const s = (2 * Math.PI * 3 * j) / cols;
        m[i * cols + j] = 2 + Math.cos(t) * Math.cos(s) + 0.998 * Math.sin(t) * Math.sin(s) + 0.01 * next();
      }
    }
    expectClose(principalProjection(m, rows, cols), svdProjection(m, rows, cols), { rtol: 1e-9, atol: 0 });
  });

  it('a per-channel offset changes nothing (the centring), also when it dominates the data', () => {
    const rows = 30;
    const cols = 50;
    const m = matrix(rows, cols, 'relu', 11);
    const shifted = Float64Array.from(m, (v, i) => v + 1e4 * (1 + (i % cols)));
    expectClose(principalProjection(shifted, rows, cols), principalProjection(m, rows, cols), { rtol: 1e-8, atol: 0 });
  });

  it('two positions (centred rows are opposite, |min| = |max|): the first position is positive', () => {
    // Centred rows: -r and r with r = (1.5, 2, 2.5); the projections are -|r| and |r| up to the sign.
    const x = Math.sqrt(1.5 ** 2 + 2 ** 2 + 2.5 ** 2);
    expectClose(principalProjection([1, 2, 3, 4, 6, 8], 2, 3), [x, -x], { rtol: 1e-12, atol: 0 });
    expectClose(principalProjection([4, 6, 8, 1, 2, 3], 2, 3), [x, -x], { rtol: 1e-12, atol: 0 });
  });
});

describe('eigen-cam end to end', () => {
  it("equals the SVD projection of the layer's activations (within float32)", async () => {
    await selectBackend('wasm');
    const model: tfl.LayersModel = tinyVgg();
    const tap = ModelTap.from(model);
    const x = inputFor(model, 3, 21);
    const layer = tap.lastSpatialLayer().name;
    const registry = createRegistry().register(eigenCam);
    const before = tf.memory().numTensors;
    const r = await explain(eigenCam, { model: tap, input: x, target: 0, options: { relu: false }, registry });
    const ours = Array.from(await (r.extras['layerMap'] as tf.Tensor).data());
    r.dispose();
    expect(tf.memory().numTensors).toBe(before);
    const acts = tap.activations(x, [layer])[layer] as tf.Tensor4D;
    const [n, h, w, k] = acts.shape;
    const data = await acts.data();
    const expected: number[] = [];
    for (let b = 0; b < n; b++) expected.push(...svdProjection(data.subarray(b * h * w * k, (b + 1) * h * w * k), h * w, k));
    expectClose(ours, expected, { rtol: 1e-4, what: 'eigen-cam vs SVD' });
    tf.dispose([x, acts]);
    tap.dispose();
    model.dispose();
  });
});

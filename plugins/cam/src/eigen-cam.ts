import * as tf from '@tensorflow/tfjs-core';
import { createCamExplainer } from './cam-base.js';

/**
 * The unit eigenvector of the largest eigenvalue of a symmetric positive semi-definite d x d
 * matrix g (row-major, float64), and that eigenvalue. Power iteration, started from a vector
 * that cannot be orthogonal to the dominant eigenvector: six repeated squarings of g / trace
 * (g^64, normalised) give a near-projector whose column of largest diagonal entry is the start;
 * plain iterations with g then refine it to a change below 1e-13. A zero matrix gives a zero
 * vector and eigenvalue 0.
 */
export function dominantEigenvector(g: Float64Array, d: number): { vector: Float64Array; value: number } {
  let trace = 0;
  for (let i = 0; i < d; i++) trace += g[i * d + i] as number;
  if (!(trace > 0)) return { vector: new Float64Array(d), value: 0 };
  let s = Float64Array.from(g, (v) => v / trace);
  for (let t = 0; t < 6; t++) {
    const next = new Float64Array(d * d);
    for (let i = 0; i < d; i++) {
      for (let l = 0; l < d; l++) {
        const sil = s[i * d + l] as number;
        if (sil === 0) continue;
        for (let j = 0; j < d; j++) next[i * d + j] = (next[i * d + j] as number) + sil * (s[l * d + j] as number);
      }
    }
    let tr = 0;
    for (let i = 0; i < d; i++) tr += next[i * d + i] as number;
    if (!(tr > 0)) break;
    for (let i = 0; i < next.length; i++) next[i] = (next[i] as number) / tr;
    s = next;
  }
  let col = 0;
  for (let i = 1; i < d; i++) if ((s[i * d + i] as number) > (s[col * d + col] as number)) col = i;
  let v = new Float64Array(d);
  for (let i = 0; i < d; i++) v[i] = s[i * d + col] as number;
  const normalise = (x: Float64Array): number => {
    let n = 0;
    for (let i = 0; i < d; i++) n += (x[i] as number) ** 2;
    n = Math.sqrt(n);
    if (n > 0) for (let i = 0; i < d; i++) x[i] = (x[i] as number) / n;
    return n;
  };
  if (normalise(v) === 0) v[col] = 1;
  let value = 0;
  for (let it = 0; it < 1000; it++) {
    const w = new Float64Array(d);
    for (let i = 0; i < d; i++) {
      let acc = 0;
      for (let j = 0; j < d; j++) acc += (g[i * d + j] as number) * (v[j] as number);
      w[i] = acc;
    }
    value = normalise(w);
    if (value === 0) return { vector: new Float64Array(d), value: 0 };
    let change = 0;
    for (let i = 0; i < d; i++) change = Math.max(change, Math.abs((w[i] as number) - (v[i] as number)));
    v = w;
    if (change < 1e-13) break;
  }
  return { vector: v, value };
}

/**
 * The projection of an activation matrix M (rows = h*w positions, cols = K channels, row-major)
 * on its first principal component: M is centred per channel (pytorch-grad-cam's
 * get_2d_projection centres before the SVD), then projected on its first right-singular vector
 * v, i.e. the dominant eigenvector of M^T M. When there are fewer positions than channels the
 * smaller Gram matrix M M^T is used instead: its dominant eigenvector u gives the same
 * projection, M v = sqrt(lambda) u. The singular vector's sign is arbitrary; it is fixed so that
 * the side of larger magnitude is positive (flipped when |min| > |max|, the rule of
 * pytorch-grad-cam's sign-corrected projection), which makes the map reproducible across SVD
 * implementations. Computed in float64.
 */
export function principalProjection(m: ArrayLike<number>, rows: number, cols: number): Float64Array {
  const c = new Float64Array(rows * cols);
  for (let j = 0; j < cols; j++) {
    let mean = 0;
    for (let i = 0; i < rows; i++) mean += m[i * cols + j] as number;
    mean /= rows;
    for (let i = 0; i < rows; i++) c[i * cols + j] = (m[i * cols + j] as number) - mean;
  }
  const p = new Float64Array(rows);
  if (cols <= rows) {
    const g = new Float64Array(cols * cols);
    for (let i = 0; i < rows; i++) {
      for (let a = 0; a < cols; a++) {
        const x = c[i * cols + a] as number;
        if (x === 0) continue;
        for (let b = a; b < cols; b++) g[a * cols + b] = (g[a * cols + b] as number) + x * (c[i * cols + b] as number);
      }
    }
    for (let a = 0; a < cols; a++) for (let b = 0; b < a; b++) g[a * cols + b] = g[b * cols + a] as number;
    const { vector } = dominantEigenvector(g, cols);
    for (let i = 0; i < rows; i++) {
      let acc = 0;
      for (let j = 0; j < cols; j++) acc += (c[i * cols + j] as number) * (vector[j] as number);
      p[i] = acc;
    }
  } else {
    const g = new Float64Array(rows * rows);
    for (let a = 0; a < rows; a++) {
      for (let b = a; b < rows; b++) {
        let acc = 0;
        for (let j = 0; j < cols; j++) acc += (c[a * cols + j] as number) * (c[b * cols + j] as number);
        g[a * rows + b] = acc;
        g[b * rows + a] = acc;
      }
    }
    const { vector, value } = dominantEigenvector(g, rows);
    const sigma = Math.sqrt(value);
    for (let i = 0; i < rows; i++) p[i] = sigma * (vector[i] as number);
  }
  let lo = Infinity;
  let hi = -Infinity;
  for (let i = 0; i < rows; i++) {
    lo = Math.min(lo, p[i] as number);
    hi = Math.max(hi, p[i] as number);
  }
  if (Math.abs(lo) > Math.abs(hi)) for (let i = 0; i < rows; i++) p[i] = -(p[i] as number);
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

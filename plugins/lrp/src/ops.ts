import * as tf from '@tensorflow/tfjs-core';
import { CnnXaiError, computePads, dilate, maxPoolGradFirstMax } from '@cnn-xai/core';

/**
 * The computations LRP rules re-run with modified inputs and parameters: a layer's forward
 * function with its parameters passed in (so a rule can clamp or square them), and its
 * vector-Jacobian product with respect to the inputs (the "gradient of the modified forward" of
 * Zennit's BasicHook, written out, because tf.js cannot nest `tf.grad` inside a custom gradient).
 *
 * Convolution input gradients are computed as forward convolutions with the flipped kernel on
 * wasm (where Conv2DBackpropInput is slow and depthwise convs have no input-gradient kernel), as
 * the model tap does; elsewhere with tf.js's transposed convolution.
 */

/** A layer's parameters as the rules see them: the kernel (or per-channel scale) and the bias. */
export interface Params {
  kernel: tf.Tensor | null;
  bias: tf.Tensor | null;
}

export interface LayerOp {
  /** The layer's output for inputs `xs` and parameters `p` (including the bias). */
  forward(xs: tf.Tensor[], p: Params): tf.Tensor;
  /** d/dxs of sum(forward(xs, p) * s): one tensor per input (the bias does not enter). */
  vjp(xs: tf.Tensor[], p: Params, s: tf.Tensor): tf.Tensor[];
  /** The parameters the rules modify (canonized: BatchNorm folded in); null where it has none. */
  params: Params;
}

const NO_PARAMS: Params = { kernel: null, bias: null };

const FORWARD_CONV_VJP = new Set(['wasm']);
const forwardConvVjp = (): boolean => FORWARD_CONV_VJP.has(tf.getBackend());

export type Pair = [number, number];

export interface ConvGeometry {
  strides: Pair;
  padding: 'same' | 'valid';
}

const addBias = (y: tf.Tensor, b: tf.Tensor | null): tf.Tensor => (b ? tf.add(y, b) : y);

/**
 * A dilated kernel written out with zeros between its taps, so that every convolution here runs
 * with dilation 1 ('same' padding uses the effective kernel size either way).
 */
export function spreadKernel(kernel: tf.Tensor4D, dilation: Pair): tf.Tensor4D {
  if (dilation[0] === 1 && dilation[1] === 1) return kernel;
  return tf.tidy(() => {
    const [kh, kw, a, b] = kernel.shape;
    const spread = dilate(tf.reshape(kernel, [1, kh, kw, a * b]), dilation[0], dilation[1]);
    return tf.reshape(spread, [spread.shape[1], spread.shape[2], a, b]);
  });
}

/**
 * The input gradient of a stride-s correlation as a forward correlation: the output gradient,
 * stride-dilated and padded fully, correlated with the flipped kernel (`corr`), then cropped to
 * the input.
 */
function gradByForwardConv(
  dy: tf.Tensor4D,
  inShape: readonly number[],
  kernel: Pair,
  g: ConvGeometry,
  corr: (t: tf.Tensor4D) => tf.Tensor4D,
): tf.Tensor4D {
  const [n, h, w, c] = inShape as [number, number, number, number];
  const [kh, kw] = kernel;
  const [t, b, l, r] = computePads(g.padding, h, w, kernel, g.strides);
  const hp = h + t + b;
  const wp = w + l + r;
  const dyd = dilate(dy, g.strides[0], g.strides[1]);
  const extraH = Math.max(0, hp - (dyd.shape[1] + kh - 1));
  const extraW = Math.max(0, wp - (dyd.shape[2] + kw - 1));
  const full = tf.pad(dyd, [
    [0, 0],
    [kh - 1, kh - 1 + extraH],
    [kw - 1, kw - 1 + extraW],
    [0, 0],
  ]);
  return tf.slice(corr(full), [0, t, l, 0], [n, h, w, c]);
}

function only(xs: tf.Tensor[]): tf.Tensor {
  return xs[0] as tf.Tensor;
}

/** Conv2D: kernel [kh, kw, in, out] (dilation already spread out). */
export function conv2dOp(params: Params, g: ConvGeometry): LayerOp {
  return {
    params,
    forward: (xs, p) => addBias(tf.conv2d(only(xs) as tf.Tensor4D, p.kernel as tf.Tensor4D, g.strides, g.padding), p.bias),
    vjp: (xs, p, s) => {
      const x = only(xs) as tf.Tensor4D;
      const k = p.kernel as tf.Tensor4D;
      if (!forwardConvVjp()) return [tf.conv2dTranspose(s as tf.Tensor4D, k, x.shape, g.strides, g.padding)];
      const flipped = tf.transpose(tf.reverse(k, [0, 1]), [0, 1, 3, 2]) as tf.Tensor4D;
      return [gradByForwardConv(s as tf.Tensor4D, x.shape, [k.shape[0], k.shape[1]], g, (t) => tf.conv2d(t, flipped, 1, 'valid'))];
    },
  };
}

/** DepthwiseConv2D: kernel [kh, kw, C, multiplier] (dilation already spread out). */
export function depthwiseOp(params: Params, g: ConvGeometry): LayerOp {
  return {
    params,
    forward: (xs, p) =>
      addBias(tf.depthwiseConv2d(only(xs) as tf.Tensor4D, p.kernel as tf.Tensor4D, g.strides, g.padding), p.bias),
    vjp: (xs, p, s) => {
      const x = only(xs) as tf.Tensor4D;
      const k = p.kernel as tf.Tensor4D;
      const [kh, kw, c, m] = k.shape;
      const rev = tf.reverse(k, [0, 1]) as tf.Tensor4D;
      let corr: (t: tf.Tensor4D) => tf.Tensor4D;
      if (m === 1) {
        corr = (t) => tf.depthwiseConv2d(t, rev, 1, 'valid');
      } else {
        // dx[c] = sum_k corr(dy[c*m+k], flip(W[:, :, c, k])): a conv with a block-diagonal kernel.
        const eye = tf.reshape(tf.eye(c), [1, 1, c, 1, c]);
        const block = tf.reshape(tf.mul(tf.reshape(rev, [kh, kw, c, m, 1]), eye), [kh, kw, c * m, c]) as tf.Tensor4D;
        corr = (t) => tf.conv2d(t, block, 1, 'valid');
      }
      return [gradByForwardConv(s as tf.Tensor4D, x.shape, [kh, kw], g, corr)];
    },
  };
}

/** Dense on the last axis (inputs of any rank): kernel [in, out]. */
export function denseOp(params: Params): LayerOp {
  const flat = (t: tf.Tensor): tf.Tensor2D => (t.rank === 2 ? (t as tf.Tensor2D) : tf.reshape(t, [-1, t.shape[t.rank - 1] as number]));
  return {
    params,
    forward: (xs, p) => {
      const x = only(xs);
      const k = p.kernel as tf.Tensor2D;
      const y = addBias(tf.matMul(flat(x), k), p.bias);
      return x.rank === 2 ? y : tf.reshape(y, [...x.shape.slice(0, -1), k.shape[1]]);
    },
    vjp: (xs, p, s) => {
      const x = only(xs);
      return [tf.reshape(tf.matMul(flat(s), p.kernel as tf.Tensor2D, false, true), x.shape)];
    },
  };
}

/** An affine per-channel layer (BatchNorm in inference form): kernel = scale [C], bias = shift [C]. */
export function affineOp(params: Params): LayerOp {
  return {
    params,
    forward: (xs, p) => addBias(tf.mul(only(xs), p.kernel as tf.Tensor), p.bias),
    vjp: (_xs, p, s) => [tf.mul(s, p.kernel as tf.Tensor)],
  };
}

export interface PoolGeometry {
  pool: Pair;
  strides: Pair;
  padding: 'same' | 'valid';
}

/**
 * Average pooling. Its Jacobian is written out: with 'same' padding tf.avgPool divides each window
 * by the number of its inputs inside the image, but tf.js 4.22's AvgPoolGrad divides by the full
 * window size, which is not the forward's derivative at the borders.
 */
export function avgPoolOp(g: PoolGeometry): LayerOp {
  const geometry: ConvGeometry = { strides: g.strides, padding: g.padding };
  return {
    params: NO_PARAMS,
    forward: (xs) => tf.avgPool(only(xs) as tf.Tensor4D, g.pool, g.strides, g.padding),
    vjp: (xs, _p, s) => {
      const x = only(xs) as tf.Tensor4D;
      const [, h, w, c] = x.shape;
      const count = tf.conv2d(tf.ones([1, h, w, 1]) as tf.Tensor4D, tf.ones([g.pool[0], g.pool[1], 1, 1]) as tf.Tensor4D, g.strides, g.padding);
      const box = tf.ones([g.pool[0], g.pool[1], c, 1]);
      return depthwiseOp({ kernel: box, bias: null }, geometry).vjp(xs, { kernel: box, bias: null }, tf.div(s, count));
    },
  };
}

/** Max pooling; its Jacobian sends each window's value to its first maximum (PyTorch's rule). */
export function maxPoolOp(g: PoolGeometry): LayerOp {
  return {
    params: NO_PARAMS,
    forward: (xs) => tf.maxPool(only(xs) as tf.Tensor4D, g.pool, g.strides, g.padding),
    vjp: (xs, _p, s) => {
      const x = only(xs) as tf.Tensor4D;
      const y = tf.maxPool(x, g.pool, g.strides, g.padding);
      return [maxPoolGradFirstMax(s as tf.Tensor4D, x, y, g)];
    },
  };
}

export function globalAvgPoolOp(keepDims: boolean): LayerOp {
  return {
    params: NO_PARAMS,
    forward: (xs) => tf.mean(only(xs), [1, 2], keepDims),
    vjp: (xs, _p, s) => {
      const x = only(xs);
      const [n, h, w, c] = x.shape as [number, number, number, number];
      return [tf.mul(tf.ones(x.shape), tf.div(tf.reshape(s, [n, 1, 1, c]), h * w))];
    },
  };
}

export function globalMaxPoolOp(keepDims: boolean): LayerOp {
  return {
    params: NO_PARAMS,
    forward: (xs) => tf.max(only(xs), [1, 2], keepDims),
    vjp: (xs, _p, s) => {
      const x = only(xs);
      const [n, , , c] = x.shape as [number, number, number, number];
      const hit = tf.cast(tf.equal(x, tf.max(x, [1, 2], true)), 'float32');
      return [tf.mul(hit, tf.reshape(s, [n, 1, 1, c]))];
    },
  };
}

export function addOp(): LayerOp {
  return {
    params: NO_PARAMS,
    forward: (xs) => xs.reduce((a, b) => tf.add(a, b)),
    vjp: (xs, _p, s) => xs.map(() => s),
  };
}

/** Checks that a value from a layer's config is a pair of positive integers. */
export function pairOf(v: unknown, what: string, layer: string): Pair {
  const p: unknown[] = typeof v === 'number' ? [v, v] : Array.isArray(v) ? (v.length === 1 ? [v[0], v[0]] : v) : [];
  if (p.length !== 2 || !p.every((e) => Number.isInteger(e) && (e as number) > 0)) {
    throw new CnnXaiError('UNSUPPORTED_LAYER', `Layer "${layer}" has ${what}=${JSON.stringify(v)}.`, 'LRP handles 2-D layers with integer sizes.');
  }
  return p as Pair;
}

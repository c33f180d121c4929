import * as tf from '@tensorflow/tfjs-core';
import {
  avgPoolInputGrad,
  CnnXaiError,
  computePads,
  conv2dInputGrad,
  depthwiseInputGrad,
  flipConvKernel,
  flipDepthwiseKernel,
  maxPoolGradFirstMax,
} from '@cnn-xai/core';

// Re-exported for this module's tests; the implementation lives in core.
export { spreadKernel } from '@cnn-xai/core';

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
  /** `op.vjpKernel(kernel)` when computed beforehand (kept across calls); else `vjp` derives it. */
  vjpKernel?: tf.Tensor | null;
}

export interface LayerOp {
  /** The layer's output for inputs `xs` and parameters `p` (including the bias). */
  forward(xs: tf.Tensor[], p: Params): tf.Tensor;
  /** d/dxs of sum(forward(xs, p) * s): one tensor per input (the bias does not enter). */
  vjp(xs: tf.Tensor[], p: Params, s: tf.Tensor): tf.Tensor[];
  /** The parameters the rules modify (canonized: BatchNorm folded in); null where it has none. */
  params: Params;
  /**
   * The constant that `vjp` derives from a kernel on this backend (a conv's flipped kernel), or
   * null where it needs none: computed once per kernel and passed in as `Params.vjpKernel`.
   */
  vjpKernel?(kernel: tf.Tensor): tf.Tensor | null;
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

/** The geometry for core's input gradients: kernels here are already spread out (dilation 1). */
const undilated = (g: ConvGeometry): ConvGeometry => ({ strides: g.strides, padding: g.padding });

function only(xs: tf.Tensor[]): tf.Tensor {
  return xs[0] as tf.Tensor;
}

/**
 * The input gradient of a stride-1 conv as one forward conv of the output gradient with the
 * flipped kernel, its padding written out (the full correlation less the forward's padding):
 * core's `conv2dInputGrad` without its pad and slice copies.
 */
function stride1InputGrad(s: tf.Tensor4D, inShape: readonly number[], flipped: tf.Tensor4D, g: ConvGeometry): tf.Tensor4D {
  const [kh, kw] = [flipped.shape[0], flipped.shape[1]];
  const [t, b, l, r] = computePads(g.padding, inShape[1] as number, inShape[2] as number, [kh, kw], [1, 1]);
  const pad: [[number, number], [number, number], [number, number], [number, number]] = [
    [0, 0],
    [kh - 1 - t, kh - 1 - b],
    [kw - 1 - l, kw - 1 - r],
    [0, 0],
  ];
  return tf.conv2d(s, flipped, 1, pad);
}

/** Conv2D: kernel [kh, kw, in, out] (dilation already spread out). */
export function conv2dOp(params: Params, g: ConvGeometry): LayerOp {
  const stride1 = g.strides[0] === 1 && g.strides[1] === 1;
  return {
    params,
    // The bias is added by the conv kernel itself (one op instead of two).
    forward: (xs, p) =>
      p.bias
        ? tf.fused.conv2d({ x: only(xs) as tf.Tensor4D, filter: p.kernel as tf.Tensor4D, strides: g.strides, pad: g.padding, bias: p.bias })
        : tf.conv2d(only(xs) as tf.Tensor4D, p.kernel as tf.Tensor4D, g.strides, g.padding),
    vjp: (xs, p, s) => {
      const x = only(xs) as tf.Tensor4D;
      const k = p.kernel as tf.Tensor4D;
      if (!forwardConvVjp()) return [tf.conv2dTranspose(s as tf.Tensor4D, k, x.shape, g.strides, g.padding)];
      const flipped = (p.vjpKernel as tf.Tensor4D | null | undefined) ?? flipConvKernel(k);
      if (stride1) return [stride1InputGrad(s as tf.Tensor4D, x.shape, flipped, g)];
      return [conv2dInputGrad(s as tf.Tensor4D, x.shape, flipped, undilated(g))];
    },
    vjpKernel: (k) => (forwardConvVjp() ? flipConvKernel(k as tf.Tensor4D) : null),
  };
}

/** DepthwiseConv2D: kernel [kh, kw, C, multiplier] (dilation already spread out). */
export function depthwiseOp(params: Params, g: ConvGeometry): LayerOp {
  return {
    params,
    forward: (xs, p) =>
      addBias(tf.depthwiseConv2d(only(xs) as tf.Tensor4D, p.kernel as tf.Tensor4D, g.strides, g.padding), p.bias),
    vjp: (xs, p, s) => {
      const flipped = (p.vjpKernel as tf.Tensor4D | null | undefined) ?? flipDepthwiseKernel(p.kernel as tf.Tensor4D);
      return [depthwiseInputGrad(s as tf.Tensor4D, only(xs).shape, flipped, undilated(g))];
    },
    vjpKernel: (k) => flipDepthwiseKernel(k as tf.Tensor4D),
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
  return {
    params: NO_PARAMS,
    forward: (xs) => tf.avgPool(only(xs) as tf.Tensor4D, g.pool, g.strides, g.padding),
    vjp: (xs, _p, s) => [avgPoolInputGrad(s as tf.Tensor4D, only(xs).shape, g)],
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

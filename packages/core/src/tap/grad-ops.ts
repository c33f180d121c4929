import * as tf from '@tensorflow/tfjs-core';

/**
 * Gradient kernels that every backend can run at forward-pass speed, and that agree with
 * PyTorch: the input gradient of a convolution computed as a forward convolution with the
 * flipped kernel (wasm has a slow Conv2DBackpropInput and no DepthwiseConv2dNativeBackpropInput),
 * and max-pool gradients that send a tied window's gradient to its first maximum in row-major
 * order (what PyTorch and the tf.js cpu backend do; the wasm backend does not). The same forward
 * route gives dilated convs an input gradient (tf.js has none) and same-padded average pooling
 * the derivative of its forward (tf.js 4.22's AvgPoolGrad divides by the full window size).
 *
 * All functions take NHWC tensors. Only the input is differentiable: kernels are constants.
 */

export type Pads = [top: number, bottom: number, left: number, right: number];

/** TensorFlow's padding for 'same'/'valid' (the extra pixel goes to the bottom/right). */
export function computePads(
  padding: 'same' | 'valid' | 'causal',
  inH: number,
  inW: number,
  kernel: [number, number],
  strides: [number, number],
  dilation: [number, number] = [1, 1],
): Pads {
  if (padding !== 'same') return [0, 0, 0, 0];
  const one = (size: number, k: number, s: number, d: number): [number, number] => {
    const eff = (k - 1) * d + 1;
    const out = Math.ceil(size / s);
    const total = Math.max((out - 1) * s + eff - size, 0);
    const before = Math.floor(total / 2);
    return [before, total - before];
  };
  const [t, b] = one(inH, kernel[0], strides[0], dilation[0]);
  const [l, r] = one(inW, kernel[1], strides[1], dilation[1]);
  return [t, b, l, r];
}

/** Inserts (s - 1) zeros between rows and columns: [N,H,W,C] -> [N,(H-1)*sh+1,(W-1)*sw+1,C]. */
export function dilate(t: tf.Tensor4D, sh: number, sw: number): tf.Tensor4D {
  if (sh === 1 && sw === 1) return t;
  return tf.tidy(() => {
    const [n, h, w, c] = t.shape;
    const spread = tf.pad(tf.reshape(t, [n, h, 1, w, 1, c]), [
      [0, 0],
      [0, 0],
      [0, sh - 1],
      [0, 0],
      [0, sw - 1],
      [0, 0],
    ]);
    return tf.slice(tf.reshape(spread, [n, h * sh, w * sw, c]), [0, 0, 0, 0], [n, (h - 1) * sh + 1, (w - 1) * sw + 1, c]) as tf.Tensor4D;
  });
}

/**
 * Places a dilated gradient map of the padded input size: pads `t` (already dilated) so that
 * its origin lands at (top, left) inside an [hp, wp] frame, cropping what falls outside.
 */
function place(t: tf.Tensor4D, top: number, left: number, hp: number, wp: number): tf.Tensor4D {
  const [n, h, w, c] = t.shape;
  const bottom = hp - top - h;
  const right = wp - left - w;
  let out: tf.Tensor4D = tf.pad(t, [
    [0, 0],
    [top, Math.max(bottom, 0)],
    [left, Math.max(right, 0)],
    [0, 0],
  ]);
  if (bottom < 0 || right < 0) out = tf.slice(out, [0, 0, 0, 0], [n, hp, wp, c]);
  return out;
}

/**
 * Gradient of a 'valid' correlation over an explicitly padded input, with respect to the
 * unpadded input, computed as a forward correlation of the dilated, fully padded output
 * gradient with the flipped kernel (`corr`, which runs with the layer's dilation). `kernel` is
 * the effective (dilated) kernel size.
 */
function inputGradByForwardConv(
  dy: tf.Tensor4D,
  inShape: readonly number[],
  kernel: [number, number],
  strides: [number, number],
  pads: Pads,
  corr: (t: tf.Tensor4D) => tf.Tensor4D,
): tf.Tensor4D {
  const [n, h, w, c] = inShape as [number, number, number, number];
  const [kh, kw] = kernel;
  const [t, b, l, r] = pads;
  const hp = h + t + b;
  const wp = w + l + r;
  const dyd = dilate(dy, strides[0], strides[1]);
  const coveredH = dyd.shape[1] + kh - 1;
  const coveredW = dyd.shape[2] + kw - 1;
  // Full correlation, extended with zeros so that it covers the whole padded input.
  const dyf = tf.pad(dyd, [
    [0, 0],
    [kh - 1, kh - 1 + Math.max(0, hp - coveredH)],
    [kw - 1, kw - 1 + Math.max(0, wp - coveredW)],
    [0, 0],
  ]);
  const dxp = corr(dyf as tf.Tensor4D);
  return tf.slice(dxp, [0, t, l, 0], [n, h, w, c]);
}

/** A unary op with a custom gradient: `backward(dy, [x, y])` returns dx. */
function withGradient(
  x: tf.Tensor4D,
  forward: (x: tf.Tensor4D) => tf.Tensor4D,
  backward: (dy: tf.Tensor4D, x: tf.Tensor4D, y: tf.Tensor4D) => tf.Tensor4D,
): tf.Tensor4D {
  const f = tf.customGrad((...args: Array<tf.Tensor | tf.GradSaveFunc>) => {
    const xin = args[0] as tf.Tensor4D;
    const save = args[1] as tf.GradSaveFunc;
    const value = forward(xin);
    save([xin, value]);
    return {
      value,
      gradFunc: (dy: tf.Tensor4D, saved: tf.Tensor[]) => backward(dy, saved[0] as tf.Tensor4D, saved[1] as tf.Tensor4D),
    };
  });
  return f(x);
}

export interface ConvParams {
  strides: [number, number];
  padding: 'same' | 'valid';
  /** Dilation rate (default 1). tf.js allows a rate above 1 only with stride 1. */
  dilation?: [number, number];
}

const ONE: [number, number] = [1, 1];
const effective = (k: number, d: number): number => (k - 1) * d + 1;

/**
 * The input gradient of `tf.conv2d(x, W, p.strides, p.padding, 'NHWC', p.dilation)` for the
 * output gradient `dy`, computed with forward ops only (pad, slice and a forward conv), so it
 * runs on every backend, for dilated convs too (tf.js has no gradient for those).
 * `flipped` is `flipConvKernel(W)`; `inShape` is the shape of `x`.
 */
export function conv2dInputGrad(dy: tf.Tensor4D, inShape: readonly number[], flipped: tf.Tensor4D, p: ConvParams): tf.Tensor4D {
  return tf.tidy(() => {
    const d = p.dilation ?? ONE;
    const kernel: [number, number] = [flipped.shape[0], flipped.shape[1]];
    const pads = computePads(p.padding, inShape[1] as number, inShape[2] as number, kernel, p.strides, d);
    const size: [number, number] = [effective(kernel[0], d[0]), effective(kernel[1], d[1])];
    return inputGradByForwardConv(dy, inShape, size, p.strides, pads, (t) => tf.conv2d(t, flipped, 1, 'valid', 'NHWC', d));
  });
}

/**
 * The input gradient of `tf.depthwiseConv2d(x, W, p.strides, p.padding, 'NHWC', p.dilation)`
 * with forward ops only (tf.js has no depthwise input gradient on wasm, and none for dilated
 * depthwise convs anywhere). `flipped` is `flipDepthwiseKernel(W)`: the reversed kernel
 * `[kh, kw, C, 1]` for multiplier 1, or the block-diagonal conv kernel `[kh, kw, C*m, C]`.
 */
export function depthwiseInputGrad(dy: tf.Tensor4D, inShape: readonly number[], flipped: tf.Tensor4D, p: ConvParams): tf.Tensor4D {
  return tf.tidy(() => {
    const d = p.dilation ?? ONE;
    const kernel: [number, number] = [flipped.shape[0], flipped.shape[1]];
    const pads = computePads(p.padding, inShape[1] as number, inShape[2] as number, kernel, p.strides, d);
    const size: [number, number] = [effective(kernel[0], d[0]), effective(kernel[1], d[1])];
    const depthwise = flipped.shape[3] === 1 && flipped.shape[2] === inShape[3];
    return inputGradByForwardConv(dy, inShape, size, p.strides, pads, (t) =>
      depthwise ? tf.depthwiseConv2d(t, flipped, 1, 'valid', 'NHWC', d) : tf.conv2d(t, flipped, 1, 'valid', 'NHWC', d),
    );
  });
}

/**
 * Conv2D (no bias) whose input gradient is a forward conv (`conv2dInputGrad`); the forward value
 * is `tf.conv2d` itself. `flipped`: `flipConvKernel(kernel)`.
 */
export function conv2dFastGrad(x: tf.Tensor4D, kernel: tf.Tensor4D, flipped: tf.Tensor4D, p: ConvParams): tf.Tensor4D {
  return withGradient(
    x,
    (xin) => tf.conv2d(xin, kernel, p.strides, p.padding, 'NHWC', p.dilation ?? ONE),
    (dy, xs) => conv2dInputGrad(dy, xs.shape, flipped, p),
  );
}

/**
 * Depthwise conv whose input gradient is a forward conv (`depthwiseInputGrad`); the forward
 * value is `tf.depthwiseConv2d` itself. `flipped`: `flipDepthwiseKernel(kernel)`.
 */
export function depthwiseFastGrad(
  x: tf.Tensor4D,
  kernel: tf.Tensor4D,
  flipped: tf.Tensor4D,
  p: ConvParams,
): tf.Tensor4D {
  return withGradient(
    x,
    (xin) => tf.depthwiseConv2d(xin, kernel, p.strides, p.padding, 'NHWC', p.dilation ?? ONE),
    (dy, xs) => depthwiseInputGrad(dy, xs.shape, flipped, p),
  );
}

/** The constant kernels the fast gradients need, computed once per layer: `[kh, kw, out, in]`. */
export function flipConvKernel(kernel: tf.Tensor4D): tf.Tensor4D {
  return tf.tidy(() => tf.transpose(tf.reverse(kernel, [0, 1]), [0, 1, 3, 2]));
}

/** The reversed depthwise kernel (multiplier 1) or the block-diagonal conv kernel (multiplier m > 1). */
export function flipDepthwiseKernel(kernel: tf.Tensor4D): tf.Tensor4D {
  return tf.tidy(() => {
    const [kh, kw, c, m] = kernel.shape;
    const rev = tf.reverse(kernel, [0, 1]);
    if (m === 1) return rev;
    // dx[c] = sum_k corr(dy[c*m+k], flip(W[:, :, c, k])): a conv with a block-diagonal kernel.
    const eye = tf.reshape(tf.eye(c), [1, 1, c, 1, c]);
    return tf.reshape(tf.mul(tf.reshape(rev, [kh, kw, c, m, 1]), eye), [kh, kw, c * m, c]) as tf.Tensor4D;
  });
}

/**
 * A dilated kernel written out with zeros between its taps (`[kh, kw, a, b]` ->
 * `[(kh-1)*dh+1, (kw-1)*dw+1, a, b]`): an undilated conv with it computes the dilated conv
 * ('same' padding uses the effective kernel size either way).
 */
export function spreadKernel(kernel: tf.Tensor4D, dilation: [number, number]): tf.Tensor4D {
  if (dilation[0] === 1 && dilation[1] === 1) return kernel;
  return tf.tidy(() => {
    const [kh, kw, a, b] = kernel.shape;
    const spread = dilate(tf.reshape(kernel, [1, kh, kw, a * b]), dilation[0], dilation[1]);
    return tf.reshape(spread, [spread.shape[1], spread.shape[2], a, b]);
  });
}

export interface PoolParams {
  pool: [number, number];
  strides: [number, number];
  padding: 'same' | 'valid';
}

/**
 * How many inputs inside the image each average-pooling window holds, `[1, Ho, Wo, 1]`:
 * what `tf.avgPool` divides by (with 'same' padding, fewer than the window size at the borders).
 */
function avgPoolCounts(h: number, w: number, p: PoolParams): tf.Tensor4D {
  const [t, , l] = computePads(p.padding, h, w, p.pool, p.strides);
  const counts = (size: number, k: number, s: number, before: number, out: number): number[] =>
    Array.from({ length: out }, (_, i) => Math.min(i * s - before + k, size) - Math.max(i * s - before, 0));
  const ho = p.padding === 'same' ? Math.ceil(h / p.strides[0]) : Math.floor((h - p.pool[0]) / p.strides[0]) + 1;
  const wo = p.padding === 'same' ? Math.ceil(w / p.strides[1]) : Math.floor((w - p.pool[1]) / p.strides[1]) + 1;
  const rows = counts(h, p.pool[0], p.strides[0], t, ho);
  const cols = counts(w, p.pool[1], p.strides[1], l, wo);
  const data = new Float32Array(ho * wo);
  rows.forEach((r, i) => cols.forEach((c, j) => (data[i * wo + j] = r * c)));
  return tf.tensor4d(data, [1, ho, wo, 1]);
}

/**
 * The input gradient of `tf.avgPool(x, p.pool, p.strides, p.padding)`: each window's output
 * gradient divided by the number of its inputs inside the image (as the forward divides), spread
 * back over the window with forward ops only. tf.js 4.22's AvgPoolGrad divides by the full window
 * size, which is wrong at the borders with 'same' padding.
 */
export function avgPoolInputGrad(dy: tf.Tensor4D, inShape: readonly number[], p: PoolParams): tf.Tensor4D {
  return tf.tidy(() => {
    const [, h, w, c] = inShape as [number, number, number, number];
    const box = tf.ones([p.pool[0], p.pool[1], c, 1]) as tf.Tensor4D;
    return depthwiseInputGrad(tf.div(dy, avgPoolCounts(h, w, p)), inShape, box, { strides: p.strides, padding: p.padding });
  });
}

/**
 * Average pooling whose gradient is the derivative of its forward (`avgPoolInputGrad`) on every
 * backend. Without padding tf.js's own gradient is right and is used.
 */
export function avgPoolExact(x: tf.Tensor4D, p: PoolParams): tf.Tensor4D {
  const pads = computePads(p.padding, x.shape[1], x.shape[2], p.pool, p.strides);
  if (pads.every((v) => v === 0)) return tf.avgPool(x, p.pool, p.strides, p.padding);
  return withGradient(
    x,
    (xin) => tf.avgPool(xin, p.pool, p.strides, p.padding),
    (dy, xs) => avgPoolInputGrad(dy, xs.shape, p),
  );
}

/**
 * Max pooling whose gradient goes to the first maximum of each window in row-major order,
 * as in PyTorch (and the tf.js cpu backend), on every backend.
 */
export function maxPoolFirstMax(x: tf.Tensor4D, p: PoolParams): tf.Tensor4D {
  return withGradient(
    x,
    (xin) => tf.maxPool(xin, p.pool, p.strides, p.padding),
    (dy, xs, ys) => maxPoolGradFirstMax(dy, xs, ys, p),
  );
}

export function maxPoolGradFirstMax(dy: tf.Tensor4D, x: tf.Tensor4D, y: tf.Tensor4D, p: PoolParams): tf.Tensor4D {
  const pads = computePads(p.padding, x.shape[1], x.shape[2], p.pool, p.strides);
  if (p.pool[0] === p.strides[0] && p.pool[1] === p.strides[1] && pads.every((v) => v === 0)) {
    return maxPoolGradTiled(dy, x, y, p.pool);
  }
  return tf.tidy(() => {
    const [n, h, w, c] = x.shape;
    const [, ho, wo] = y.shape;
    const [ph, pw] = p.pool;
    const [sh, sw] = p.strides;
    const [t, b, l, r] = computePads(p.padding, h, w, p.pool, p.strides);
    const hp = h + t + b;
    const wp = w + l + r;
    const xp =
      t + b + l + r > 0
        ? tf.pad(
            x,
            [
              [0, 0],
              [t, b],
              [l, r],
              [0, 0],
            ],
            -Infinity,
          )
        : x;
    let taken: tf.Tensor | null = null;
    let acc: tf.Tensor4D | null = null;
    for (let a = 0; a < ph; a++) {
      for (let bb = 0; bb < pw; bb++) {
        const patch = tf.stridedSlice(
          xp,
          [0, a, bb, 0],
          [n, a + (ho - 1) * sh + 1, bb + (wo - 1) * sw + 1, c],
          [1, sh, sw, 1],
        ) as tf.Tensor4D;
        let hit: tf.Tensor = tf.equal(patch, y);
        if (taken) hit = tf.logicalAnd(hit, tf.logicalNot(taken));
        taken = taken ? tf.logicalOr(taken, hit) : hit;
        const g = tf.where(hit, dy, tf.zerosLike(dy)) as tf.Tensor4D;
        const placed = place(dilate(g, sh, sw), a, bb, hp, wp);
        acc = acc ? tf.add<tf.Tensor4D>(acc, placed) : placed;
      }
    }
    return tf.slice(acc as tf.Tensor4D, [0, t, l, 0], [n, h, w, c]);
  });
}

/**
 * The first-max gradient for non-overlapping windows without padding (pool == stride, the usual
 * 2x2 pooling), with rank-4 ops that are fast on wasm (strided slices and rank-6 broadcasts are
 * not): the pooled maxima and the output gradient are spread back over their windows by
 * nearest-neighbour upsampling; among a window's maxima, the one with the largest rank weight
 * (K - k for the k-th position in row-major order) is the first.
 */
function maxPoolGradTiled(dy: tf.Tensor4D, x: tf.Tensor4D, y: tf.Tensor4D, pool: [number, number]): tf.Tensor4D {
  return tf.tidy(() => {
    const [n, h, w, c] = x.shape;
    const [, ho, wo] = y.shape;
    const [ph, pw] = pool;
    const hc = ho * ph;
    const wc = wo * pw;
    const xc = hc === h && wc === w ? x : tf.slice(x, [0, 0, 0, 0], [n, hc, wc, c]);
    const spread = (t: tf.Tensor4D): tf.Tensor4D => tf.image.resizeNearestNeighbor(t, [hc, wc], false, false);
    const rank = new Float32Array(hc * wc);
    for (let i = 0; i < hc; i++) for (let j = 0; j < wc; j++) rank[i * wc + j] = ph * pw - ((i % ph) * pw + (j % pw));
    const scored: tf.Tensor4D = tf.mul(tf.cast(tf.equal(xc, spread(y)), 'float32'), tf.tensor4d(rank, [1, hc, wc, 1]));
    const first = tf.equal(scored, spread(tf.maxPool(scored, pool, pool, 'valid') as tf.Tensor4D));
    const dx: tf.Tensor4D = tf.mul(tf.cast(first, 'float32'), spread(dy));
    return hc === h && wc === w ? dx : tf.pad(dx, [[0, 0], [0, h - hc], [0, w - wc], [0, 0]]);
  });
}

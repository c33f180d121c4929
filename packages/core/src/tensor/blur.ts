import * as tf from '@tensorflow/tfjs-core';

/** A normalised 1-D Gaussian kernel of odd size (default: 2 * ceil(3 sigma) + 1). */
export function gaussianKernel1d(sigma: number, size?: number): Float32Array {
  const n = size ?? 2 * Math.ceil(3 * sigma) + 1;
  const half = (n - 1) / 2;
  const k = new Float32Array(n);
  let total = 0;
  for (let i = 0; i < n; i++) {
    const d = i - half;
    k[i] = Math.exp(-(d * d) / (2 * sigma * sigma));
    total += k[i] as number;
  }
  for (let i = 0; i < n; i++) k[i] = (k[i] as number) / total;
  return k;
}

/**
 * Separable Gaussian blur of an NHWC batch, per channel, with reflected borders so that a
 * constant image stays constant.
 */
export function gaussianBlur(x: tf.Tensor4D, sigma: number): tf.Tensor4D {
  if (sigma <= 0) return x.clone();
  return tf.tidy(() => {
    const c = x.shape[3];
    const k = gaussianKernel1d(sigma);
    const half = (k.length - 1) / 2;
    const pad = Math.min(half, x.shape[1] - 1, x.shape[2] - 1);
    const kk = k.length - 2 * (half - pad); // trim the kernel if the image is tiny
    const trimmed = k.slice(half - pad, half - pad + kk);
    const sum = trimmed.reduce((a, b) => a + b, 0);
    const kt = tf.tensor1d(Array.from(trimmed, (v) => v / sum));
    const kv = tf.tile(tf.reshape(kt, [kk, 1, 1, 1]), [1, 1, c, 1]) as tf.Tensor4D;
    const kh = tf.tile(tf.reshape(kt, [1, kk, 1, 1]), [1, 1, c, 1]) as tf.Tensor4D;
    const padded = tf.mirrorPad(x, [[0, 0], [pad, pad], [pad, pad], [0, 0]], 'reflect');
    const v = tf.depthwiseConv2d(padded, kv, 1, 'valid');
    return tf.depthwiseConv2d(v, kh, 1, 'valid');
  });
}

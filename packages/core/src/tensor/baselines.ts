import * as tf from '@tensorflow/tfjs-core';
import { CnnXaiError } from '../errors.js';
import type { RandomStream } from '../random.js';
import { gaussianBlur } from './blur.js';

export const BASELINES = ['zeros', 'blur', 'uniform', 'mean'] as const;
export type BaselineName = (typeof BASELINES)[number];

export interface BaselineOptions {
  /** Blur sigma in pixels for `blur` (default: 1/10 of the shorter side, at least 1). */
  sigma?: number;
  /** Value range for `uniform` (default [0, 1], the fixtures' input range). */
  range?: readonly [number, number];
  random?: RandomStream;
}

/**
 * A baseline batch shaped like `x`: `zeros`, `blur` (Gaussian-blurred input), `uniform`
 * (noise in the input range, seeded), `mean` (each image's per-channel mean), a number
 * (constant), or an array/tensor from the API (broadcast to x's shape).
 */
export function makeBaseline(x: tf.Tensor4D, baseline: unknown, opts: BaselineOptions = {}): tf.Tensor4D {
  return tf.tidy(() => {
    if (baseline === 'zeros' || baseline === undefined) return tf.zerosLike(x);
    if (baseline === 'blur') {
      const sigma = opts.sigma ?? Math.max(1, Math.min(x.shape[1], x.shape[2]) / 10);
      return gaussianBlur(x, sigma);
    }
    if (baseline === 'uniform') {
      const [lo, hi] = opts.range ?? [0, 1];
      if (!opts.random) return tf.randomUniform(x.shape, lo, hi) as tf.Tensor4D;
      return tf.tensor4d(opts.random.uniformArray(x.size, lo, hi), x.shape);
    }
    if (baseline === 'mean') return tf.tile(tf.mean(x, [1, 2], true), [1, x.shape[1], x.shape[2], 1]) as tf.Tensor4D;
    if (typeof baseline === 'number') return tf.fill(x.shape, baseline) as tf.Tensor4D;
    let t: tf.Tensor;
    if (baseline instanceof tf.Tensor) t = tf.cast(baseline, 'float32');
    else if (Array.isArray(baseline) || ArrayBuffer.isView(baseline)) {
      const flat = Array.isArray(baseline) ? (baseline.flat(Infinity) as number[]) : Array.from(baseline as Float32Array);
      if (flat.length !== x.size && flat.length !== x.size / x.shape[0]) {
        throw new CnnXaiError('BAD_OPTION_VALUE', `A baseline array of ${flat.length} values does not fit inputs of shape [${x.shape.join(', ')}].`, 'Give one value per input element (per image or per batch).');
      }
      t = tf.tensor(flat, flat.length === x.size ? x.shape : [1, ...x.shape.slice(1)]);
    } else {
      throw new CnnXaiError('BAD_OPTION_VALUE', `Unknown baseline ${JSON.stringify(baseline)}.`, `Use one of ${BASELINES.join(', ')}, a number, or an array/tensor.`);
    }
    try {
      return tf.broadcastTo(t, x.shape) as tf.Tensor4D;
    } catch {
      throw new CnnXaiError('BAD_OPTION_VALUE', `A baseline of shape [${t.shape.join(', ')}] does not broadcast to [${x.shape.join(', ')}].`, 'Give a baseline shaped like one image or like the batch.');
    }
  });
}

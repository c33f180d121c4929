import * as tf from '@tensorflow/tfjs-core';

/** (x - mean) / std per channel, for models trained on standardised inputs. */
export function normalize(x: tf.Tensor, mean: number | readonly number[], std: number | readonly number[]): tf.Tensor {
  return tf.tidy(() => tf.div(tf.sub(x, tf.tensor(mean as number[])), tf.tensor(std as number[])));
}

/**
 * Per-image min-max scaling to [0, 1] over all axes but the first:
 * (a - min) / (max - min + eps), as pytorch-grad-cam's scale_cam_image does (eps 1e-7).
 */
export function minMaxScale(x: tf.Tensor, eps = 1e-7): tf.Tensor {
  return tf.tidy(() => {
    const axes = x.shape.map((_, i) => i).slice(1);
    const lo = tf.min(x, axes, true);
    const shifted = tf.sub(x, lo);
    const hi = tf.max(shifted, axes, true);
    return tf.div(shifted, tf.add(hi, eps));
  });
}

/** Sums a [N,H,W,C] map over channels to [N,H,W] (a [N,H,W] map passes through). */
export function sumChannels(x: tf.Tensor): tf.Tensor {
  return x.rank === 4 ? tf.sum(x, 3) : x.clone();
}

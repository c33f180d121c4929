import * as tf from '@tensorflow/tfjs-core';
import { gaussianBlur } from '@cnn-xai/core';

/*
 * Image priors for feature visualization, as penalties subtracted from the objective, per image,
 * on the image in the input range (before the random transforms). Each is a mean over pixels (and
 * channels) of values scaled by the input range, so weights do not depend on the image size:
 *
 *   l2    mean(((x - mid) / range)^2)                   (Simonyan et al.'s ||I||^2, about the grey image)
 *   tv    mean |x[y+1,x] - x[y,x]| / range + mean |x[y,x+1] - x[y,x]| / range   (total variation)
 *   blur  0.5 * mean(((x - blur(x)) / range)^2), blur(x) held constant        (Lucid's blur_input_each_step)
 */

export interface RegularizerWeights {
  l2: number;
  tv: number;
  blur: number;
}

export function hasRegularizers(w: RegularizerWeights): boolean {
  return w.l2 > 0 || w.tv > 0 || w.blur > 0;
}

/** Sigma in pixels of the Gaussian behind the blur penalty. */
export const BLUR_SIGMA = 1;

/** The constant blurred image the blur penalty pulls towards (computed outside the gradient). */
export function blurTarget(x: tf.Tensor4D): tf.Tensor4D {
  return gaussianBlur(x, BLUR_SIGMA);
}

/** The weighted penalty per image [N]. `blurred` is needed when `w.blur > 0`. */
export function penalties(
  x: tf.Tensor4D,
  w: RegularizerWeights,
  range: { low: number; high: number },
  blurred: tf.Tensor4D | null,
): tf.Tensor1D {
  return tf.tidy(() => {
    const [n, h, wd, c] = x.shape;
    const span = range.high - range.low;
    const mid = (range.high + range.low) / 2;
    const perImage = (t: tf.Tensor): tf.Tensor => tf.mean(tf.reshape(t, [n, -1]), 1);
    let total: tf.Tensor = tf.zeros([n]);
    if (w.l2 > 0) total = tf.add(total, tf.mul(perImage(tf.square(tf.div(tf.sub(x, mid), span))), w.l2));
    if (w.tv > 0) {
      let tv: tf.Tensor = tf.zeros([n]);
      if (h > 1) {
        const dy = tf.sub(tf.slice(x, [0, 1, 0, 0], [n, h - 1, wd, c]), tf.slice(x, [0, 0, 0, 0], [n, h - 1, wd, c]));
        tv = tf.add(tv, perImage(tf.abs(dy)));
      }
      if (wd > 1) {
        const dx = tf.sub(tf.slice(x, [0, 0, 1, 0], [n, h, wd - 1, c]), tf.slice(x, [0, 0, 0, 0], [n, h, wd - 1, c]));
        tv = tf.add(tv, perImage(tf.abs(dx)));
      }
      total = tf.add(total, tf.mul(tf.div(tv, span), w.tv));
    }
    if (w.blur > 0 && blurred) {
      total = tf.add(total, tf.mul(perImage(tf.square(tf.div(tf.sub(x, blurred), span))), 0.5 * w.blur));
    }
    return total as tf.Tensor1D;
  });
}

import * as tf from '@tensorflow/tfjs-core';
import { mapBatches, type BackwardOverride, type ExplainContext } from '@cnn-xai/core';

/**
 * Input gradients of the target score for a batch of images, `batchSize` images per pass.
 * Shared by the gradient explainers; overrides (guided backprop, deconvnet) apply per call.
 */
export function inputGradients(
  x: tf.Tensor4D,
  ctx: ExplainContext,
  batchSize: number,
  overrides?: readonly BackwardOverride[],
): Promise<tf.Tensor> {
  const n = x.shape[0];
  return mapBatches(
    n,
    batchSize,
    (s, e) =>
      tf.tidy(() => {
        const xb = tf.slice(x, [s, 0, 0, 0], [e - s, -1, -1, -1]);
        const rows = Array.from({ length: e - s }, (_, i) => s + i);
        const g = ctx.tap.gradient(xb, (out) => ctx.target.score(out, rows), { overrides });
        return g.gradient;
      }),
    ctx,
  );
}

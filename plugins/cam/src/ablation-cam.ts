import * as tf from '@tensorflow/tfjs-core';
import { batchRanges, yieldToEventLoop } from '@cnn-xai/core';
import { createCamExplainer, type CamWeightArgs } from './cam-base.js';

/**
 * Ablation-CAM weights: for each channel k, y_k = the target score when channel k of the
 * layer's activation is set to 0 and only the network's head (from the layer to the output)
 * is run again; w_k = (y - y_k) / y with y the unablated score (pytorch-grad-cam's formula; a
 * negative y flips the map's sign, and y = 0 gives the plain drop y - y_k). The head runs on
 * `batchSize` ablated copies of one image at a time.
 *
 * pytorch-grad-cam sets the channel to 0 when the layer's minimum is 0 (a ReLU output) and to
 * min - 1e7 otherwise; here the channel is always set to 0, as in the paper.
 */
export async function ablationCamWeights({ input, activations, scores, rows, layer, ctx, options, progress }: CamWeightArgs): Promise<tf.Tensor2D> {
  const [n, , , k] = activations.shape;
  const y = await scores.data();
  const weights = new Float32Array(n * k);
  const ranges = batchRanges(k, options.batchSize);
  for (let b = 0; b < n; b++) {
    const image = tf.slice(input, [b, 0, 0, 0], [1, -1, -1, -1]);
    // The input is the context only for heads with skip connections around the layer.
    const head = ctx.tap.head(layer.name, image);
    try {
      const yb = y[b] as number;
      for (const [ri, [k0, k1]] of ranges.entries()) {
        ctx.throwIfAborted();
        const s = tf.tidy(() => {
          const a = tf.slice(activations, [b, 0, 0, 0], [1, -1, -1, -1]);
          const keep = tf.sub(1, tf.oneHot(tf.range(k0, k1, 1, 'int32'), k));
          const ablated = tf.mul(a, tf.reshape(keep, [k1 - k0, 1, 1, k]));
          return ctx.target.score(head.run(ablated), new Array<number>(k1 - k0).fill(rows[b] as number));
        });
        const yk = await s.data();
        s.dispose();
        for (let j = 0; j < yk.length; j++) {
          const drop = yb - (yk[j] as number);
          weights[b * k + k0 + j] = yb === 0 ? drop : drop / yb;
        }
        progress((b + (ri + 1) / ranges.length) / n);
        await yieldToEventLoop();
      }
    } finally {
      head.dispose();
      image.dispose();
    }
  }
  return tf.tensor2d(weights, [n, k]);
}

/**
 * Ablation-CAM (Desai and Ramaswamy 2020): no gradients; channel k's weight is the relative
 * drop of the target score when channel k is zeroed. Runs only the network's head, once per
 * channel and image (batched by `batchSize`).
 */
export const ablationCam = createCamExplainer({
  id: 'ablation-cam',
  name: 'Ablation-CAM',
  description:
    'Zeroes each feature map of the layer in turn, reruns the rest of the network and weights the feature map by the relative drop of the class score: gradient-free, one head pass per channel.',
  paper: {
    title: 'Ablation-CAM: Visual Explanations for Deep Convolutional Network via Gradient-free Localization',
    authors: 'Desai, Ramaswamy',
    year: 2020,
    url: 'https://openaccess.thecvf.com/content_WACV_2020/html/Desai_Ablation-CAM_Visual_Explanations_for_Deep_Convolutional_Network_via_Gradient-free_Localization_WACV_2020_paper.html',
  },
  requiresGradients: false,
  batchSizeDescription: 'Images per forward pass: the input batch for the activations, then ablated copies of one image through the head.',
  weights: ablationCamWeights,
});

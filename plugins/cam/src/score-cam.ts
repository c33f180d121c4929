import * as tf from '@tensorflow/tfjs-core';
import { batchRanges, resizeBilinear, yieldToEventLoop } from '@cnn-xai/core';
import { createCamExplainer, type CamWeightArgs } from './cam-base.js';

/** Softmax of a vector in float64, shifted by its maximum. */
function softmax(v: ArrayLike<number>): Float64Array {
  let max = -Infinity;
  for (let i = 0; i < v.length; i++) max = Math.max(max, v[i] as number);
  const out = new Float64Array(v.length);
  let sum = 0;
  for (let i = 0; i < v.length; i++) {
    out[i] = Math.exp((v[i] as number) - max);
    sum += out[i] as number;
  }
  for (let i = 0; i < v.length; i++) out[i] = (out[i] as number) / sum;
  return out;
}

/**
 * The masks of channels [k0, k1) of image b, [k1-k0, H, W, 1]: each channel upsampled to the
 * input size bilinearly with aligned corners (PyTorch's UpsamplingBilinear2d, as
 * pytorch-grad-cam does), then min-max scaled over the image: (u - min) / (max - min + 1e-8).
 */
export function scoreCamMasks(activations: tf.Tensor4D, b: number, k0: number, k1: number, size: readonly [number, number]): tf.Tensor4D {
  return tf.tidy(() => {
    const [, h, w] = activations.shape;
    const a = tf.slice(activations, [b, 0, 0, k0], [1, h, w, k1 - k0]);
    const up = resizeBilinear(a, [size[0], size[1]], { alignCorners: true });
    const lo = tf.min(up, [1, 2], true);
    const hi = tf.max(up, [1, 2], true);
    const m = tf.div(tf.sub(up, lo), tf.add(tf.sub(hi, lo), 1e-8));
    return tf.transpose(m, [3, 1, 2, 0]) as tf.Tensor4D;
  });
}

/**
 * Score-CAM weights (Algorithm 1 of the paper, as pytorch-grad-cam computes them): for each
 * channel k, the target logit of the masked image x * H_k through the whole model, then a
 * softmax over the channels. `batchSize` masked images go through the model at once; each
 * image's K channels are scored in ceil(K / batchSize) passes.
 */
export async function scoreCamWeights({ input, activations, rows, ctx, options, progress }: CamWeightArgs): Promise<tf.Tensor2D> {
  const [n, , , k] = activations.shape;
  const size: [number, number] = [input.shape[1], input.shape[2]];
  const weights = new Float32Array(n * k);
  const ranges = batchRanges(k, options.batchSize);
  for (let b = 0; b < n; b++) {
    const scores = new Float32Array(k);
    for (const [ri, [k0, k1]] of ranges.entries()) {
      ctx.throwIfAborted();
      const masked = tf.tidy(() => {
        const masks = scoreCamMasks(activations, b, k0, k1, size);
        const image = tf.slice(input, [b, 0, 0, 0], [1, -1, -1, -1]);
        return tf.mul(image, masks);
      });
      let out: tf.Tensor;
      try {
        // Through ctx.model: split between worker threads when the call has them.
        out = await ctx.model.predict(masked);
      } finally {
        masked.dispose();
      }
      const s = tf.tidy(() => ctx.target.score(out, new Array<number>(k1 - k0).fill(rows[b] as number)));
      out.dispose();
      scores.set(await s.data(), k0);
      s.dispose();
      progress((b + (ri + 1) / ranges.length) / n);
      await yieldToEventLoop();
    }
    weights.set(softmax(scores), b * k);
  }
  return tf.tensor2d(weights, [n, k]);
}

/**
 * Score-CAM (Wang et al. 2020): no gradients; channel k's weight is the softmax over channels
 * of the target logit for the input masked by that channel's upsampled, min-max scaled map.
 * Costs one forward pass of the whole model per channel and image (batched by `batchSize`).
 */
export const scoreCam = createCamExplainer({
  id: 'score-cam',
  name: 'Score-CAM',
  description:
    "Masks the input with each upsampled feature map in turn, scores each masked image with the model, and weights the feature maps by the softmax of those scores: gradient-free, one forward pass per channel.",
  paper: {
    title: 'Score-CAM: Score-Weighted Visual Explanations for Convolutional Neural Networks',
    authors: 'Wang, Wang, Du, Yang, Zhang, Ding, Mardziel, Hu',
    year: 2020,
    url: 'https://arxiv.org/abs/1910.01279',
  },
  requiresGradients: false,
  batchSizeDescription: 'Images per forward pass: the input batch for the activations, then masked copies of one image when scoring channels.',
  weights: scoreCamWeights,
});

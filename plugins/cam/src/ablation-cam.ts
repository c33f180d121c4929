import * as tf from '@tensorflow/tfjs-core';
import { batchRanges, yieldToEventLoop } from '@cnn-xai/core';
import { createCamExplainer, type CamWeightArgs } from './cam-base.js';

/** Head outputs are scored in groups of about this many values (bounds the memory they hold). */
const SCORE_GROUP = 1 << 16;

/** Least time between two yields to the event loop, in ms (a yield per head pass costs more than a small pass). */
const YIELD_EVERY_MS = 10;

/**
 * Ablation-CAM weights: for each channel k, y_k = the target score when channel k of the
 * layer's activation is set to 0 and only the network's head (from the layer to the output)
 * is run again; w_k = (y - y_k) / y with y the unablated score (pytorch-grad-cam's formula; a
 * negative y flips the map's sign, and y = 0 gives the plain drop y - y_k).
 *
 * Each head pass takes at most `batchSize` ablated copies. When the head reads nothing from
 * before the layer, a pass holds every image of the batch with a block of floor(batchSize / B)
 * channels zeroed, built by one broadcast product A [B,1,hw,K] x mask [1,R,1,K] (no per-image
 * slices); with skip connections around the layer the head needs the image as context, and a
 * pass holds up to `batchSize` ablated copies of one image. The head outputs are scored a group
 * of passes at a time, and the scores stay on the backend until all passes are done, then come
 * back in one transfer.
 *
 * pytorch-grad-cam sets the channel to 0 when the layer's minimum is 0 (a ReLU output) and to
 * min - 1e7 otherwise; here the channel is always set to 0, as in the paper.
 */
export async function ablationCamWeights({ input, activations, scores, rows, layer, ctx, options, progress }: CamWeightArgs): Promise<tf.Tensor2D> {
  const [n, h, w, k] = activations.shape;
  const y = await scores.data();
  // The head passes in order: the images each covers and its channel block (rows image-major).
  const passes: { b0: number; b1: number; k0: number; k1: number }[] = [];
  const scored: tf.Tensor[] = [];
  // Head outputs not scored yet, with the input row (for the target) of each of their rows.
  let outputs: tf.Tensor[] = [];
  let targets: number[] = [];
  let held = 0;
  const score = (): void => {
    if (outputs.length === 0) return;
    const group = outputs;
    const rowsOf = targets;
    outputs = [];
    targets = [];
    held = 0;
    try {
      scored.push(tf.tidy(() => ctx.target.score(group.length === 1 ? (group[0] as tf.Tensor) : tf.concat(group), rowsOf)));
    } finally {
      tf.dispose(group);
    }
  };
  try {
    const contextual = ctx.tap.headNeedsContext(layer.name);
    const plan = (contextual ? batchRanges(n, 1) : [[0, n] as [number, number]]).map(([b0, b1]) => ({
      b0,
      b1,
      blocks: batchRanges(k, Math.max(1, Math.floor(options.batchSize / (b1 - b0)))),
    }));
    const total = plan.reduce((s, p) => s + p.blocks.length, 0);
    let yielded = performance.now();
    for (const { b0, b1, blocks } of plan) {
      const images = b1 - b0;
      // The image is the context only for heads with skip connections around the layer.
      const context = contextual ? tf.slice(input, [b0, 0, 0, 0], [images, -1, -1, -1]) : undefined;
      let head: ReturnType<typeof ctx.tap.head> | undefined;
      let a: tf.Tensor | undefined;
      try {
        const runner = (head = ctx.tap.head(layer.name, context));
        const part = contextual && n > 1 ? tf.slice(activations, [b0, 0, 0, 0], [images, -1, -1, -1]) : activations;
        const acts = (a = tf.reshape(part, [images, 1, h * w, k]));
        if (part !== activations) part.dispose();
        for (const [k0, k1] of blocks) {
          ctx.throwIfAborted();
          const r = k1 - k0;
          // Row i * r + j of the pass: image b0 + i with channel k0 + j zeroed.
          const keep = new Float32Array(r * k).fill(1);
          for (let j = 0; j < r; j++) keep[j * k + k0 + j] = 0;
          const out = tf.tidy(() => runner.run(tf.reshape(tf.mul(acts, tf.tensor4d(keep, [1, r, 1, k])), [images * r, h, w, k])));
          outputs.push(out);
          for (let i = 0; i < images * r; i++) targets.push(rows[b0 + Math.floor(i / r)] as number);
          held += out.size;
          passes.push({ b0, b1, k0, k1 });
          if (held >= SCORE_GROUP) score();
          progress(passes.length / total);
          if (performance.now() - yielded >= YIELD_EVERY_MS) {
            await yieldToEventLoop();
            yielded = performance.now();
          }
        }
      } finally {
        head?.dispose();
        a?.dispose();
        context?.dispose();
      }
    }
    score();
    const all = scored.length === 1 ? (scored[0] as tf.Tensor) : tf.concat(scored);
    let yk: ArrayLike<number>;
    try {
      yk = await all.data();
    } finally {
      if (scored.length > 1) all.dispose();
    }
    const weights = new Float32Array(n * k);
    let offset = 0;
    for (const { b0, b1, k0, k1 } of passes) {
      const r = k1 - k0;
      for (let b = b0; b < b1; b++) {
        const yb = y[b] as number;
        for (let j = 0; j < r; j++) {
          const drop = yb - (yk[offset + (b - b0) * r + j] as number);
          weights[b * k + k0 + j] = yb === 0 ? drop : drop / yb;
        }
      }
      offset += (b1 - b0) * r;
    }
    return tf.tensor2d(weights, [n, k]);
  } finally {
    tf.dispose(outputs);
    tf.dispose(scored);
  }
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
  batchSizeDescription:
    'Images per forward pass: the input batch for the activations, then ablated copies per head pass (all images with a block of channels zeroed, or one image at a time when skip connections go around the layer).',
  weights: ablationCamWeights,
});

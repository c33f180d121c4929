import * as tf from '@tensorflow/tfjs-core';
import {
  BASELINES,
  batchRanges,
  CnnXaiError,
  defineExplainer,
  makeBaseline,
  opt,
  quadrature,
  RULES,
  yieldToEventLoop,
  type ExplainContext,
  type LayerInfo,
  type Rule,
} from '@cnn-xai/core';
import { camLayers, combineLayerMaps } from './cam-base.js';

/*
 * Integrated Grad-CAM (Sattarzadeh et al., ICASSP 2021), as the authors' notebook computes it
 * (smstrzd/IntegratedGradCAM, Integrated_Grad_CAM.ipynb; METHODS.md section 2.3):
 *
 *   x_i   = x' + alpha_i (x - x')                     points on the straight path from the baseline x'
 *   A_i   = A(x_i)                                    the layer's activations AT THE PATH POINT (not at x,
 *                                                     and not A(x) - A(x'): the notebook's feature-level
 *                                                     baseline is `x * 0`, i.e. zero)
 *   g_i^k = mean_{u,v} d y^c(x_i) / d A_i^k           Grad-CAM's weight at the path point (logit y^c)
 *   s_i   = ReLU( sum_k g_i^k A_i^k )                 Grad-CAM's layer map at the path point, ReLU per point
 *   M     = sum_i (n w_i) s_i                         n = steps, (alpha_i, w_i) the integration rule
 *
 * With the default rule, riemann-left (alpha_i = i/n, i = 0..n-1, w_i = 1/n), n w_i = 1 and M is
 * exactly the notebook's `np.sum(ex_stack, axis=0)`: a plain sum over the n path points with no
 * 1/n. Other rules keep that scale: n times the rule's estimate of the integral of s over [0, 1].
 * The map is then upsampled bilinearly with half-pixel centres (the notebook's cv2.resize).
 *
 * Closed form (the property the tests check): for a bias-free ReLU network (positively
 * homogeneous up to the layer: A(alpha x) = alpha A(x) for alpha >= 0) with a GAP + dense head
 * after the layer, the gradients d y^c / d A^k = w_k^c / Z do not depend on the input, so with the
 * zero baseline s_i = ReLU(alpha_i sum_k (w_k^c / Z) A^k(x)) = alpha_i GradCAM(x), and
 *   M = n (sum_i w_i alpha_i) GradCAM(x).
 * For riemann-left, n sum_i w_i alpha_i = sum_{i=0}^{n-1} i/n = (n-1)/2: M = ((n-1)/2) GradCAM(x),
 * exactly. The other rules give (n+1)/2 (riemann-right) and n/2 (riemann-middle, trapezoid and
 * Gauss-Legendre integrate alpha exactly). Because alpha_0 = 0 is the baseline itself, steps = 1
 * with riemann-left is GradCAM(x') (zero in the case above): use 20 or more points.
 */

const description =
  "Layer Grad-CAM's terms accumulated along the straight path from a baseline image to the input: Grad-CAM (mean gradient times activations, rectified) at each path point, summed over the points.";

/**
 * Integrated Grad-CAM: the sum over path points x' + alpha_i (x - x') of the Grad-CAM layer map
 * at each point (see the definition above). Options: `layer` (one or a list, as the other CAMs),
 * `relu` (per path point; default true, as the authors' code), `steps` (default 50, the authors'
 * `num_steps`), `rule` (default riemann-left, the authors' i / steps points), `baseline` (default
 * zeros, the authors' black image), `batchSize` (path points per forward/backward pass, points of
 * all images batched together) and `seed` (for the uniform baseline). Extras: `layerMap` (or
 * `layerMap:<name>` for a list), `steps`, `rule`.
 */
export const integratedGradCam = defineExplainer({
  id: 'integrated-grad-cam',
  name: 'Integrated Grad-CAM',
  family: 'cam',
  kind: 'cam',
  description,
  paper: {
    title: 'Integrated Grad-CAM: Sensitivity-Aware Visual Explanation of Deep Convolutional Networks via Integrated Gradient-Based Scoring',
    authors: 'Sattarzadeh, Sudhakar, Plataniotis, Jang, Jeong, Kim',
    year: 2021,
    url: 'https://arxiv.org/abs/2102.07805',
  },
  requires: { gradients: true, layer: 'conv' },
  options: {
    layer: opt.layer({
      default: undefined,
      multiple: true,
      description:
        "Layer(s) whose feature maps are used (default: the last layer with a 4-D output). With several layers, each layer's map is scaled per image first (to [0, 1] after the ReLU, or by its largest magnitude without it), upsampled, and the maps are averaged.",
    }),
    relu: opt.boolean({ default: true, description: "Rectify Grad-CAM's map at each path point before summing (the authors' code does)." }),
    steps: opt.integer({ default: 50, min: 1, max: 2000, description: "Points on the path from the baseline to the input (the authors' default: 50)." }),
    rule: opt.choice({
      default: 'riemann-left',
      choices: RULES,
      description: "Integration rule; the default, riemann-left (points i/steps, the baseline included, the input not), is the authors'.",
    }),
    baseline: opt.choiceOrValue({ default: 'zeros', choices: BASELINES, description: 'The reference image the path starts from (the authors: a black image, zeros).' }),
    batchSize: opt.integer({ default: 64, min: 1, max: 8192, description: 'Path points per forward/backward pass (the points of all images are batched together).' }),
    seed: opt.integer({ default: 0, min: 0, description: 'Seed for the uniform baseline.' }),
  },
  async explain(x, ctx, o) {
    const rule = o.rule as Rule;
    if (rule === 'riemann-trapezoid' && o.steps < 2) {
      throw new CnnXaiError('BAD_OPTION_VALUE', 'The trapezoid rule needs steps >= 2.', 'Use steps >= 2 or another rule.');
    }
    const layers = camLayers(ctx.tap, o.layer);
    const { alphas, weights } = quadrature(rule, o.steps);
    // Each point's factor n w_i: 1 for the Riemann rules (the authors' plain sum over the points).
    const factors = weights.map((w) => w * o.steps);
    const size: [number, number] = [x.shape[1], x.shape[2]];
    const baseline = makeBaseline(x, o.baseline, { random: ctx.random });
    try {
      return await combineLayerMaps(layers, size, o.relu, false, { steps: o.steps, rule }, (layer, progress) =>
        pathCam(x, baseline, ctx, layer, { alphas, factors, relu: o.relu, batchSize: o.batchSize }, progress),
      (f) => ctx.progress(f));
    } finally {
      baseline.dispose();
    }
  },
});

interface PathOptions {
  alphas: readonly number[];
  /** Multiplier of each path point's map (n w_i). */
  factors: readonly number[];
  relu: boolean;
  batchSize: number;
}

/**
 * sum_i factor_i * [ReLU](sum_k mean_uv(dy/dA_i^k) A_i^k) for one layer, [N,h,w]. The N * steps
 * path points are enumerated image by image and cut into passes of `batchSize` points, so one
 * pass may hold points of several images; each pass adds its weighted maps to their images' sums
 * with one matrix product.
 */
export async function pathCam(
  x: tf.Tensor4D,
  baseline: tf.Tensor4D,
  ctx: ExplainContext,
  layer: LayerInfo,
  o: PathOptions,
  progress: (fraction: number) => void,
): Promise<tf.Tensor3D> {
  const n = x.shape[0];
  const steps = o.alphas.length;
  const total = n * steps;
  const diff = tf.sub(x, baseline);
  let acc: tf.Tensor3D | null = null;
  try {
    for (const [s, e] of batchRanges(total, o.batchSize)) {
      ctx.throwIfAborted();
      const b = e - s;
      const rows = Array.from({ length: b }, (_, i) => Math.floor((s + i) / steps));
      const ks = Array.from({ length: b }, (_, i) => (s + i) % steps);
      const points = tf.tidy(() => {
        const idx = tf.tensor1d(rows, 'int32');
        const a = tf.tensor4d(ks.map((k) => o.alphas[k] as number), [b, 1, 1, 1]);
        return tf.add(tf.gather(baseline, idx), tf.mul(a, tf.gather(diff, idx))) as tf.Tensor4D;
      });
      let r: { gradient: tf.Tensor; activation: tf.Tensor };
      try {
        // Split between worker threads when the call has them.
        r = await ctx.layerGradient(points, layer.name, rows);
      } finally {
        points.dispose();
      }
      const next: tf.Tensor3D = tf.tidy(() => {
        const act = r.activation as tf.Tensor4D;
        const [, h, w, k] = act.shape;
        const alpha = tf.reshape(tf.mean(r.gradient, [1, 2]), [b, 1, 1, k]);
        const raw = tf.sum(tf.mul(act, alpha), 3);
        const map = o.relu ? tf.relu(raw) : raw;
        // sel[img, p] = factor of point p when point p belongs to image img, else 0.
        const sel = new Float32Array(n * b);
        rows.forEach((img, p) => (sel[img * b + p] = o.factors[ks[p] as number] as number));
        const contrib = tf.reshape(tf.matMul(tf.tensor2d(sel, [n, b]), tf.reshape(map, [b, h * w])), [n, h, w]) as tf.Tensor3D;
        return acc ? (tf.add(acc, contrib) as tf.Tensor3D) : contrib;
      });
      tf.dispose([r.gradient, r.activation]);
      acc?.dispose();
      acc = next;
      progress(e / total);
      await yieldToEventLoop();
    }
    const result = acc as tf.Tensor3D;
    acc = null;
    return result;
  } finally {
    acc?.dispose();
    diff.dispose();
  }
}

import { createRandom, defineExplainer, opt, type Extra } from '@cnn-xai/core';
import {
  drawSeed,
  evaluateCoalitions,
  featureMap,
  featureMasks,
  featureOptions,
  fillValues,
  maskTensor,
  SURROGATE_BASELINES,
  type CoalitionSet,
} from './features.js';
import { weightedRidge } from './linalg.js';

export const DISTANCE_SPACES = ['features', 'pixels'] as const;

/**
 * LIME's coalitions for one image: row 0 keeps every feature (the original image), the other
 * rows keep each feature with probability 1/2, drawn from a stream seeded with `seed` (so an
 * image gets the same coalitions alone or in a batch).
 */
export function limeCoalitions(m: number, samples: number, seed: number): CoalitionSet {
  const random = createRandom(seed);
  const z = new Uint8Array(samples * m);
  z.fill(1, 0, m);
  for (let i = m; i < samples * m; i++) z[i] = random.next() < 0.5 ? 1 : 0;
  return { z, rows: samples, m };
}

/**
 * LIME's kernel `sqrt(exp(-d^2 / width^2)) = exp(-d^2 / (2 width^2))` of a cosine distance d.
 * lime_image takes d between the coalition and the all-ones vector, `1 - sqrt(k / M)` for k kept
 * features (1 when none is kept, as sklearn's cosine distance of a zero vector); Captum's default
 * similarity takes it between the perturbed image and the original (`pixels`).
 */
export function limeKernel(distance: number, width: number): number {
  return Math.exp(-(distance * distance) / (2 * width * width));
}

export function coalitionDistance(z: Uint8Array, m: number): number {
  let k = 0;
  for (let j = 0; j < m; j++) k += z[j] as number;
  return k === 0 ? 1 : 1 - Math.sqrt(k / m);
}

/**
 * LIME for images (Ribeiro, Singh and Guestrin, KDD 2016), following lime_image: perturb the
 * image by hiding random subsets of superpixels, weight each sample by its closeness to the
 * original, and fit a weighted ridge regression of the target score on which superpixels were
 * kept. Each pixel's value is its superpixel's coefficient.
 */
export const lime = defineExplainer({
  id: 'lime',
  name: 'LIME',
  family: 'surrogate',
  kind: 'perturbation',
  description:
    'Fits a weighted linear model of the score on which superpixels are kept, over random perturbations near the image; each pixel gets its superpixel\'s coefficient.',
  paper: {
    title: '"Why Should I Trust You?": Explaining the Predictions of Any Classifier',
    authors: 'Ribeiro, Singh, Guestrin',
    year: 2016,
    url: 'https://arxiv.org/abs/1602.04938',
  },
  requires: { gradients: false },
  options: {
    samples: opt.integer({
      default: 1000,
      min: 2,
      max: 1_000_000,
      description: "Perturbed images per image, the original included (lime_image's num_samples).",
    }),
    ...featureOptions,
    baseline: opt.choiceOrValue({
      choices: SURROGATE_BASELINES,
      default: 'segment-mean',
      description:
        "What hidden features show: 'segment-mean' (each superpixel's own mean colour, lime_image's hide_color=None), zeros, blur, uniform, mean (the image's mean colour), a number or an array/tensor.",
    }),
    kernelWidth: opt.number({
      default: 0.25,
      min: 0.001,
      max: 1000,
      description: "Width of the exponential kernel on the cosine distance (lime_image's kernel_width; weights are sqrt(exp(-d^2/width^2))).",
    }),
    distance: opt.choice({
      choices: DISTANCE_SPACES,
      default: 'features',
      description:
        "Where the cosine distance to the original is measured: the coalition vectors (lime_image) or the perturbed images' pixels (Captum's default similarity).",
    }),
    alpha: opt.number({ default: 1, min: 0, max: 1e6, description: "Ridge penalty of the surrogate (lime's Ridge(alpha=1)); the intercept is not penalised." }),
    batchSize: opt.integer({ default: 64, min: 1, max: 4096, description: 'Perturbed images per model call.' }),
    seed: opt.integer({ default: undefined as unknown as number, min: 0, description: "Seed of the perturbations (default: the call's seed)." }),
  },
  async explain(x, ctx, o) {
    const [n, h, w] = x.shape;
    const pixels = (await x.data()) as Float32Array;
    const f = await featureMasks(x, pixels, o);
    const seed = drawSeed(ctx);
    const fill = fillValues(x, pixels, f, o.baseline, seed);
    try {
      const sets = f.counts.map((m) => limeCoalitions(m, o.samples, seed));
      const pixelsSpace = o.distance === 'pixels';
      const ev = await evaluateCoalitions(ctx, x, fill, f, sets, o.batchSize, { cosine: pixelsSpace });
      const weights: number[][] = [];
      const intercept: number[] = [];
      const r2: number[] = [];
      const score: number[] = [];
      const localPrediction: number[] = [];
      for (let i = 0; i < n; i++) {
        const set = sets[i] as CoalitionSet;
        const y = ev.scores[i] as Float64Array;
        const kw = new Float64Array(set.rows);
        for (let r = 0; r < set.rows; r++) {
          const d = pixelsSpace
            ? 1 - (((ev.cosine as Float64Array[])[i] as Float64Array)[r] as number)
            : coalitionDistance(set.z.subarray(r * set.m, (r + 1) * set.m), set.m);
          kw[r] = limeKernel(d, o.kernelWidth);
        }
        const fit = weightedRidge(set.z, set.rows, set.m, y, kw, o.alpha);
        weights.push(Array.from(fit.coef));
        intercept.push(fit.intercept);
        r2.push(fit.r2);
        score.push(y[0] as number);
        localPrediction.push(fit.intercept + fit.coef.reduce((s, v) => s + v, 0));
      }
      const values = featureMap(f, weights, h, w);
      return {
        values,
        signed: true,
        extras: {
          weights: weights as unknown as Extra,
          intercept,
          r2,
          score,
          localPrediction,
          featureCounts: [...f.counts],
          featureMask: maskTensor(f, h, w),
        },
      };
    } finally {
      fill.dispose();
    }
  },
});

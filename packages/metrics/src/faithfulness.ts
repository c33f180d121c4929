import * as tf from '@tensorflow/tfjs-core';
import { AbortError, makeBaseline, opt, resolveOptions, type OptionsOf, type Target } from '@cnn-xai/core';
import {
  attributionTarget,
  attributionValues,
  checkAttribution,
  checkBatch,
  classScoresOf,
  meanOf,
  predictorOf,
  ranksOf,
  resolveClasses,
  saliencyRows,
  SCORE_MODES,
  tick,
  type AttributionLike,
  type MetricModel,
} from './common.js';
import type { MetricResult } from './types.js';

/** Substrates a removed pixel takes (deletion) or the image insertion starts from. */
export const SUBSTRATES = ['zeros', 'blur', 'mean'] as const;
export type Substrate = (typeof SUBSTRATES)[number];

/** The default number of steps of a deletion/insertion curve when `step` is 0 (auto). */
export const DEFAULT_CURVE_STEPS = 64;

const curveOptions = (substrate: Substrate, what: string) => ({
  step: opt.integer({
    default: 0,
    min: 0,
    description: `Pixels ${what} per step; 0 (auto) = ceil(H*W / ${DEFAULT_CURVE_STEPS}), i.e. ${DEFAULT_CURVE_STEPS} steps (RISE: 224 px per step at 224x224, i.e. 224 steps, or 224*8 in batch evaluation).`,
  }),
  baseline: opt.choice({
    default: substrate,
    choices: SUBSTRATES,
    description:
      substrate === 'zeros'
        ? 'What a deleted pixel becomes: zeros (RISE), blur (the Gaussian-blurred image) or mean (the image\'s per-channel mean).'
        : 'The image insertion starts from: blur (RISE), zeros or mean; pixels are then copied in from the original.',
  }),
  blurSigma: opt.number({
    default: 0,
    min: 0,
    description: 'Gaussian sigma in pixels for the blur substrate; 0 (auto) = max(1, min(H, W) / 10), the library\'s blur baseline (RISE: an 11x11 kernel with sigma 5 at 224 px).',
  }),
  score: opt.choice({ default: 'softmax', choices: SCORE_MODES, description: 'softmax (probability of the class, RISE) or raw (the model output, e.g. logits).' }),
  batchSize: opt.integer({ default: 64, min: 1, max: 4096, description: 'Perturbed images per forward pass.' }),
});

export const deletionOptions = curveOptions('zeros', 'deleted');
export const insertionOptions = curveOptions('blur', 'inserted');

export interface MapMetricRequest {
  model: MetricModel;
  /** [N, H, W, C] float32 images, the batch the attribution explains. */
  input: tf.Tensor;
  /** The map (or explain()'s attribution) to score: [N, H, W] or [N, H, W, C] (channels summed). */
  attribution: AttributionLike;
  /** Classes to score; default the attribution's target, else each image's predicted class. */
  target?: Target;
  options?: Record<string, unknown>;
  signal?: AbortSignal;
  onProgress?: (fraction: number) => void;
}

/** Trapezoid area under scores at x = 0, 1/(n-1), ..., 1 (RISE's `auc`). */
export function trapezoidAuc(scores: ArrayLike<number>): number {
  const n = scores.length;
  if (n < 2) return n === 1 ? (scores[0] as number) : Number.NaN;
  let s = 0;
  for (let i = 0; i < n; i++) s += scores[i] as number;
  return (s - (scores[0] as number) / 2 - (scores[n - 1] as number) / 2) / (n - 1);
}

function substrateOf(x: tf.Tensor4D, kind: Substrate, sigma: number): tf.Tensor4D {
  if (kind === 'blur') return makeBaseline(x, 'blur', sigma > 0 ? { sigma } : {});
  return makeBaseline(x, kind);
}

/**
 * Runs the images from `start` to `end` in the order of `ranks`: at step k the pixels of rank
 * < k * step come from `end`, the others from `start` (all channels of a pixel). Returns the
 * class score curve of every image (nSteps + 1 values), batching steps of all images together.
 */
async function scoreCurves(
  p: Parameters<typeof classScoresOf>[0],
  start: tf.Tensor4D,
  end: tf.Tensor4D,
  ranks: Float32Array[],
  step: number,
  classes: readonly number[],
  o: { score: 'softmax' | 'raw'; batchSize: number },
  hooks: { signal?: AbortSignal | undefined; onProgress?: ((f: number) => void) | undefined },
): Promise<number[][]> {
  const [n, h, w] = start.shape;
  const hw = h * w;
  const nSteps = Math.ceil(hw / step);
  const perImage = nSteps + 1;
  const total = n * perImage;
  const rankData = new Float32Array(n * hw);
  ranks.forEach((r, i) => rankData.set(r, i * hw));
  const rankT = tf.tensor4d(rankData, [n, h, w, 1]);
  const curves: number[][] = Array.from({ length: n }, () => new Array<number>(perImage).fill(0));
  try {
    for (let a = 0; a < total; a += o.batchSize) {
      if (hooks.signal?.aborted) throw new AbortError(hooks.signal.reason);
      const b = Math.min(total, a + o.batchSize);
      const img: number[] = [];
      const thr: number[] = [];
      for (let r = a; r < b; r++) {
        img.push(Math.floor(r / perImage));
        thr.push((r % perImage) * step);
      }
      const batch = tf.tidy(() => {
        const idx = tf.tensor1d(img, 'int32');
        const s = tf.gather(start, idx);
        const e = tf.gather(end, idx);
        const rk = tf.gather(rankT, idx);
        const m = tf.cast(tf.less(rk, tf.tensor4d(thr, [b - a, 1, 1, 1])), 'float32');
        return tf.add(s, tf.mul(m, tf.sub(e, s))) as tf.Tensor4D;
      });
      let scores: Float32Array;
      try {
        scores = await classScoresOf(p, batch, img.map((i) => classes[i] as number), o.score);
      } finally {
        batch.dispose();
      }
      for (let r = a; r < b; r++) (curves[Math.floor(r / perImage)] as number[])[r % perImage] = scores[r - a] as number;
      hooks.onProgress?.(b / total);
      await tick();
    }
  } finally {
    rankT.dispose();
  }
  return curves;
}

async function curveMetric(kind: 'deletion' | 'insertion', req: MapMetricRequest): Promise<MetricResult> {
  const o = resolveOptions(kind, kind === 'deletion' ? deletionOptions : insertionOptions, req.options ?? {}) as OptionsOf<
    typeof deletionOptions
  >;
  const { predictor, release } = predictorOf(req.model);
  try {
    const x = checkBatch(req.input, predictor, kind);
    const values = attributionValues(req.attribution);
    const [n, h, w] = checkAttribution(values, x, kind);
    const ranks = saliencyRows(values, n, h, w).map(ranksOf);
    const classes = await resolveClasses(req.target, attributionTarget(req.attribution), predictor, x);
    const step = o.step > 0 ? o.step : Math.ceil((h * w) / DEFAULT_CURVE_STEPS);
    const substrate = substrateOf(x, o.baseline, o.blurSigma);
    let curves: number[][];
    try {
      curves =
        kind === 'deletion'
          ? await scoreCurves(predictor, x, substrate, ranks, step, classes, o, req)
          : await scoreCurves(predictor, substrate, x, ranks, step, classes, o, req);
    } finally {
      substrate.dispose();
    }
    const perImage = curves.map(trapezoidAuc);
    return {
      metric: kind,
      value: meanOf(perImage),
      perImage,
      details: { curves, classes, step, steps: Math.ceil((h * w) / step) },
      options: { ...o, step },
    };
  } finally {
    release();
  }
}

/**
 * Deletion AUC (Petsiuk et al., RISE): pixels are removed (set to the substrate, default zeros)
 * in order of decreasing attribution, `step` pixels at a time; the class score after each step
 * (softmax by default) traces a curve from the full image to the fully deleted one, and the
 * trapezoid area under it on a unit x-axis is reported, in [0, 1] for softmax scores. Lower is
 * better: the score should fall as soon as the most important pixels go.
 */
export function deletion(req: MapMetricRequest): Promise<MetricResult> {
  return curveMetric('deletion', req);
}

/**
 * Insertion AUC (RISE): starts from the substrate (default: the blurred image) and copies the
 * original pixels in, in order of decreasing attribution. Higher is better.
 */
export function insertion(req: MapMetricRequest): Promise<MetricResult> {
  return curveMetric('insertion', req);
}

export const dropIncreaseOptions = {
  keep: opt.number({
    default: 0.15,
    min: 0,
    max: 1,
    description: 'Fraction of pixels kept: the top ones by attribution (SISE: 15%); the others are set to the baseline.',
  }),
  baseline: opt.choice({ default: 'zeros', choices: SUBSTRATES, description: 'What the pixels that are not kept become: zeros (SISE: point-wise multiplication by the binary mask), blur or mean.' }),
  blurSigma: opt.number({ default: 0, min: 0, description: 'Gaussian sigma for the blur baseline; 0 (auto) = max(1, min(H, W) / 10).' }),
  score: opt.choice({ default: 'softmax', choices: SCORE_MODES, description: 'softmax (confidence, SISE) or raw model output.' }),
  batchSize: opt.integer({ default: 64, min: 1, max: 4096, description: 'Images per forward pass.' }),
};

export interface DropIncreaseResult {
  /** Average Drop %: (100 / N) Σ max(0, Y - O) / Y. Lower is better. */
  averageDrop: MetricResult;
  /** Increase in Confidence %: (100 / N) Σ [O > Y]. Higher is better. */
  increase: MetricResult;
  /** Y: the class score of each full image. */
  full: number[];
  /** O: the class score of each image reduced to its explanation. */
  explanation: number[];
}

/**
 * Average Drop % and Increase in Confidence % (Chattopadhay et al., Grad-CAM++), in the SISE
 * variant: the explanation map selects the top `keep` (15%) pixels, the image keeps them and the
 * rest become the baseline (zeros), and the class confidence O of that image is compared to the
 * confidence Y of the full image.
 */
export async function averageDropIncrease(req: MapMetricRequest): Promise<DropIncreaseResult> {
  const o = resolveOptions('average-drop', dropIncreaseOptions, req.options ?? {});
  const { predictor, release } = predictorOf(req.model);
  try {
    const x = checkBatch(req.input, predictor, 'average-drop');
    const values = attributionValues(req.attribution);
    const [n, h, w] = checkAttribution(values, x, 'average-drop');
    const hw = h * w;
    const kept = Math.round(o.keep * hw);
    const keep = new Float32Array(n * hw);
    saliencyRows(values, n, h, w).forEach((row, i) => {
      const r = ranksOf(row);
      for (let p = 0; p < hw; p++) keep[i * hw + p] = (r[p] as number) < kept ? 1 : 0;
    });
    const classes = await resolveClasses(req.target, attributionTarget(req.attribution), predictor, x);
    const base = substrateOf(x, o.baseline, o.blurSigma);
    const reduced = tf.tidy(() => {
      const m = tf.tensor4d(keep, [n, h, w, 1]);
      return tf.add(base, tf.mul(m, tf.sub(x, base))) as tf.Tensor4D;
    });
    base.dispose();
    const full: number[] = [];
    const expl: number[] = [];
    try {
      for (let a = 0; a < n; a += o.batchSize) {
        if (req.signal?.aborted) throw new AbortError(req.signal.reason);
        const b = Math.min(n, a + o.batchSize);
        const cls = classes.slice(a, b);
        const xa = a === 0 && b === n ? x : (tf.slice(x, [a, 0, 0, 0], [b - a, -1, -1, -1]) as tf.Tensor4D);
        const ra = a === 0 && b === n ? reduced : (tf.slice(reduced, [a, 0, 0, 0], [b - a, -1, -1, -1]) as tf.Tensor4D);
        try {
          full.push(...(await classScoresOf(predictor, xa, cls, o.score)));
          expl.push(...(await classScoresOf(predictor, ra, cls, o.score)));
        } finally {
          if (xa !== x) xa.dispose();
          if (ra !== reduced) ra.dispose();
        }
        req.onProgress?.(b / n);
      }
    } finally {
      reduced.dispose();
    }
    const drops = full.map((y, i) => (Math.max(0, y - (expl[i] as number)) / y) * 100);
    const incs = full.map((y, i) => ((expl[i] as number) > y ? 100 : 0));
    const options = { ...o, keptPixels: kept };
    const details = { classes, full, explanation: expl };
    return {
      averageDrop: { metric: 'average-drop', value: meanOf(drops), perImage: drops, details, options },
      increase: { metric: 'increase-in-confidence', value: meanOf(incs), perImage: incs, details, options },
      full,
      explanation: expl,
    };
  } finally {
    release();
  }
}

import * as tf from '@tensorflow/tfjs-core';
import {
  batchRanges,
  opt,
  resizeBilinear,
  yieldToEventLoop,
  type AttributionResult,
  type ExplainContext,
  type LayerInfo,
  type ModelTap,
} from '@cnn-xai/core';
import { siseLayers } from './layers.js';
import { otsuThreshold, siseOtsuThreshold } from './otsu.js';

export const FUSIONS = ['otsu', 'soft-otsu', 'simple'] as const;
export type Fusion = (typeof FUSIONS)[number];
export const SCORES = ['softmax', 'logit'] as const;
export type ScoreMode = (typeof SCORES)[number];

/** The options SISE and Ada-SISE share. */
export function siseOptions() {
  return {
    layer: opt.layer({
      default: undefined,
      multiple: true,
      description:
        'Layers probed, one per block, low-level first (a list, or comma-separated). Default: the layer feeding each down-sampling layer (pooling or strided convolution; ZeroPadding2D looked through, the input skipped) plus the last layer with a 4-D output.',
    }),
    scores: opt.choice({
      default: 'softmax',
      choices: SCORES,
      description:
        "The confidence score Psi: softmax (the target class's probability, computed from the logits, as the reference code's Keras models output it) or logit. It is used for the gradient selection and for scoring the masked inputs.",
    }),
    areaNorm: opt.boolean({
      default: true,
      description: "Divide each mask's contribution by its area (sum of the mask + 1e-6), Eq. 11 of the paper.",
    }),
    fusion: opt.choice({
      default: 'otsu',
      choices: FUSIONS,
      description:
        "Block fusion F = (F + V_b) * T(V_b): otsu: T = V_b > Otsu threshold (hard, the paper); soft-otsu: T = sigmoid(100 (V_b - thr)) with the reference code's Otsu (tau = 1.5 rule); simple: T = V_b.",
    }),
    batchSize: opt.integer({ default: 64, min: 1, max: 4096, description: 'Masked images per forward pass.' }),
  };
}

export interface SiseSettings {
  layer: string | string[] | undefined;
  scores: ScoreMode;
  areaNorm: boolean;
  fusion: Fusion;
  batchSize: number;
}

/**
 * Chooses the feature maps of one layer for one image from their average gradients alpha.
 * Returns the kept channel indices (increasing) and the threshold relative to max alpha
 * (NaN when no alpha is positive).
 */
export type ChannelSelector = (alpha: Float32Array) => { channels: number[]; threshold: number };

/** True when the tap's output already holds probabilities (output mode `model` on a softmax model). */
function outputsProbabilities(tap: ModelTap): boolean {
  const last = tap.layers[tap.layers.length - 1];
  return tap.options.output === 'model' && last?.activation === 'softmax';
}

/** Psi of each row of an output batch (rows[r]: the image row r belongs to). */
function psi(ctx: ExplainContext, mode: ScoreMode, out: tf.Tensor, rows?: readonly number[]): tf.Tensor1D {
  if (mode === 'logit' || outputsProbabilities(ctx.tap)) return ctx.target.score(out, rows);
  return tf.tidy(() => ctx.target.score(tf.softmax(tf.reshape(out, [out.shape[0] as number, -1])), rows));
}

/**
 * The score differentiated in phase 2. In softmax mode, for class targets: log p_c computed
 * stably as -log1p(sum_{j != c} exp(z_j - z_c)). Its gradient is d p_c / p_c, so the selection
 * (alpha_k > mu max alpha, or Otsu on alpha / max alpha) is exactly that of p_c, without the
 * float32 underflow of d p_c when p_c rounds to 1.
 */
function gradientScore(ctx: ExplainContext, mode: ScoreMode): (out: tf.Tensor) => tf.Tensor1D {
  const classes = ctx.target.classes;
  if (mode === 'logit') return (out) => ctx.target.score(out);
  if (outputsProbabilities(ctx.tap)) {
    return classes ? (out) => tf.log(tf.add(ctx.target.score(out), 1e-30)) as tf.Tensor1D : (out) => ctx.target.score(out);
  }
  if (!classes) return (out) => psi(ctx, mode, out);
  return (out) => {
    const z = tf.reshape(out, [out.shape[0] as number, -1]) as tf.Tensor2D;
    const k = z.shape[1];
    const zc = ctx.target.score(z);
    const others = tf.sub(1, tf.oneHot(tf.tensor1d(classes, 'int32'), k));
    const d = tf.minimum(tf.sub(z, tf.expandDims(zc, 1)), 80);
    return tf.neg(tf.log1p(tf.sum(tf.mul(tf.exp(d), others), 1))) as tf.Tensor1D;
  };
}

/** SISE's selection: alpha_k > mu max_k alpha (and alpha_k > 0: a layer without a positive alpha gives no mask). */
export function thresholdSelector(mu: number): ChannelSelector {
  return (alpha) => {
    let beta = -Infinity;
    for (const a of alpha) beta = Math.max(beta, a);
    if (!(beta > 0)) return { channels: [], threshold: Number.NaN };
    const thr = mu * beta;
    const channels: number[] = [];
    alpha.forEach((a, k) => a > thr && a > 0 && channels.push(k));
    return { channels, threshold: mu };
  };
}

/**
 * Ada-SISE's selection: a = alpha / max alpha, tau = Otsu over the positive a (256 bins of
 * uint8(255 a)), keep a > tau. A subset of SISE's mu = 0 selection, since tau >= 0.
 */
export function otsuSelector(): ChannelSelector {
  return (alpha) => {
    let beta = -Infinity;
    for (const a of alpha) beta = Math.max(beta, a);
    if (!(beta > 0)) return { channels: [], threshold: Number.NaN };
    const norm = Array.from(alpha, (a) => a / beta);
    const tau = otsuThreshold(norm.filter((a) => a > 0));
    const channels: number[] = [];
    norm.forEach((a, k) => a > tau && a > 0 && channels.push(k));
    return { channels, threshold: tau };
  };
}

/** Min-max to [0, 1]; a constant map becomes all zeros. */
function minMax01(v: Float32Array): Float32Array {
  let lo = Infinity;
  let hi = -Infinity;
  for (const x of v) {
    lo = Math.min(lo, x);
    hi = Math.max(hi, x);
  }
  const out = new Float32Array(v.length);
  if (!(hi > lo)) return out;
  const span = hi - lo;
  for (let i = 0; i < v.length; i++) out[i] = ((v[i] as number) - lo) / span;
  return out;
}

/**
 * Cascaded fusion of the block maps (low-level first; null: a block without masks, left out):
 * F = V_1; F = (F + V_b) * T(V_b). Returns F (all zeros when no block has a map) and each
 * fused block's threshold (NaN for the first block, `simple` fusion and left-out blocks).
 */
export function fuseBlocks(maps: ReadonlyArray<Float32Array | null>, size: number, fusion: Fusion): { fused: Float32Array; thresholds: number[] } {
  let f: Float32Array | null = null;
  const thresholds = maps.map(() => Number.NaN);
  maps.forEach((v, b) => {
    if (!v) return;
    if (!f) {
      f = Float32Array.from(v);
      return;
    }
    const acc: Float32Array = f;
    if (fusion === 'simple') {
      for (let i = 0; i < size; i++) acc[i] = ((acc[i] as number) + (v[i] as number)) * (v[i] as number);
    } else if (fusion === 'otsu') {
      const thr = otsuThreshold(v);
      thresholds[b] = thr;
      for (let i = 0; i < size; i++) acc[i] = (v[i] as number) > thr ? (acc[i] as number) + (v[i] as number) : 0;
    } else {
      const thr = siseOtsuThreshold(v);
      thresholds[b] = thr;
      for (let i = 0; i < size; i++) {
        const gate = 1 / (1 + Math.exp(-100 * ((v[i] as number) - thr)));
        acc[i] = ((acc[i] as number) + (v[i] as number)) * gate;
      }
    }
  });
  return { fused: f ?? new Float32Array(size), thresholds };
}

/**
 * The masks of channels `channels` of image i at one layer, [cnt, H, W, 1]: Omega(A_k) =
 * bilinear upsampling to the input size (half-pixel centres, as tf.image.resize), then
 * (u - min) / (max - min + 1e-6) per mask, as the reference code does; a constant map gives zeros.
 */
export function attributionMasks(activation: tf.Tensor4D, i: number, channels: readonly number[], size: readonly [number, number]): tf.Tensor4D {
  return tf.tidy(() => {
    const [, h, w, k] = activation.shape;
    const a = tf.gather(tf.slice(activation, [i, 0, 0, 0], [1, h, w, k]), tf.tensor1d(channels as number[], 'int32'), 3);
    const up = resizeBilinear(a, [size[0], size[1]]);
    const lo = tf.min(up, [1, 2], true);
    const shifted = tf.sub(up, lo);
    const m = tf.div(shifted, tf.add(tf.max(shifted, [1, 2], true), 1e-6));
    return tf.transpose(m, [3, 1, 2, 0]) as tf.Tensor4D;
  });
}

/** One mask to score: image i, block b (index into the layers), channel k. */
interface Job {
  b: number;
  k: number;
}

/**
 * The SISE pipeline (METHODS.md 2.1): block-wise layers; one forward + backward pass for the
 * average gradients alpha of every layer (all images together); `select` keeps feature maps;
 * each kept map, upsampled and normalised, masks the input and the masked image's score
 * weights the mask (divided by its area); per block V = sum_n s_n m_n, min-max normalised;
 * cascaded fusion. Masked images go through the model `batchSize` at a time, one image's masks
 * per batch (so an image's map does not depend on the others explained with it).
 */
export async function runSise(x: tf.Tensor4D, ctx: ExplainContext, o: SiseSettings, select: ChannelSelector): Promise<AttributionResult> {
  const layers: LayerInfo[] = siseLayers(ctx.tap, o.layer);
  const names = layers.map((l) => l.name);
  const [n, hh, ww] = x.shape;
  const size: [number, number] = [hh, ww];
  const plane = hh * ww;
  const res = ctx.tap.gradients(x, gradientScore(ctx, o.scores), { layers: names });
  const activations = names.map((nm) => res.activations[nm] as tf.Tensor4D);
  const accumulators: Array<Array<tf.Tensor | null>> = [];
  try {
    const alphas = await Promise.all(
      names.map(async (nm) => {
        const mean = tf.mean(res.gradients[nm] as tf.Tensor, [1, 2]);
        const data = (await mean.data()) as Float32Array;
        mean.dispose();
        return data;
      }),
    );
    tf.dispose([...Object.values(res.gradients), res.output, res.scores]);
    const featureMaps = activations.map((a) => a.shape[3]);
    // Selection per image and layer.
    const selected = Array.from({ length: n }, (_, i) =>
      layers.map((_, b) => {
        const k = featureMaps[b] as number;
        return select((alphas[b] as Float32Array).subarray(i * k, (i + 1) * k));
      }),
    );
    const jobs: Job[][] = selected.map((perLayer) => perLayer.flatMap((s, b) => s.channels.map((k) => ({ b, k }))));
    const totalJobs = jobs.reduce((s, j) => s + j.length, 0);
    let done = 0;
    ctx.progress(1 / (totalJobs + 1));
    for (let i = 0; i < n; i++) {
      const acc: Array<tf.Tensor | null> = layers.map(() => null);
      accumulators.push(acc);
      const list = jobs[i] as Job[];
      for (const [s, e] of batchRanges(list.length, o.batchSize)) {
        ctx.throwIfAborted();
        const batch = list.slice(s, e);
        // Segments of consecutive jobs on the same layer.
        const segments: Array<{ b: number; channels: number[] }> = [];
        for (const j of batch) {
          const last = segments[segments.length - 1];
          if (last && last.b === j.b) last.channels.push(j.k);
          else segments.push({ b: j.b, channels: [j.k] });
        }
        const [all, masked] = tf.tidy(() => {
          const masks = segments.map((g) => attributionMasks(activations[g.b] as tf.Tensor4D, i, g.channels, size));
          const all = masks.length === 1 ? (masks[0] as tf.Tensor4D) : tf.concat(masks, 0);
          const image = tf.slice(x, [i, 0, 0, 0], [1, -1, -1, -1]);
          return [all, tf.mul(image, all)];
        });
        let out: tf.Tensor;
        try {
          // Through ctx.model: split between worker threads when the call has them.
          out = await ctx.model.predict(masked as tf.Tensor);
        } catch (e) {
          tf.dispose([all, masked] as tf.Tensor[]);
          throw e;
        }
        masked?.dispose();
        const contributions = tf.tidy(() => {
          const scores = psi(ctx, o.scores, out, new Array<number>(e - s).fill(i));
          const flat = tf.reshape(all, [e - s, plane]);
          const weights = o.areaNorm ? tf.div(scores, tf.add(tf.sum(flat, 1), 1e-6)) : scores;
          let offset = 0;
          return segments.map((g) => {
            const cnt = g.channels.length;
            const w = tf.reshape(tf.slice(weights, [offset], [cnt]), [1, cnt]);
            const m = tf.slice(flat, [offset, 0], [cnt, plane]);
            offset += cnt;
            return tf.matMul(w, m);
          });
        });
        tf.dispose([all, out] as tf.Tensor[]);
        segments.forEach((g, si) => {
          const c = contributions[si] as tf.Tensor;
          const prev = acc[g.b];
          acc[g.b] = prev ? tf.add(prev, c) : c;
          if (prev) tf.dispose([prev, c]);
        });
        done += e - s;
        ctx.progress((done + 1) / (totalJobs + 1));
        await yieldToEventLoop();
      }
    }
    // Per-block maps, normalised, and the fusion (on the CPU: Otsu needs histograms).
    const fusedAll = new Float32Array(n * plane);
    const blocksAll = new Float32Array(n * layers.length * plane);
    const fusionThresholds: number[][] = [];
    for (let i = 0; i < n; i++) {
      const maps: Array<Float32Array | null> = [];
      for (const [b, t] of (accumulators[i] as Array<tf.Tensor | null>).entries()) {
        const v = t ? minMax01((await t.data()) as Float32Array) : null;
        if (v) blocksAll.set(v, (i * layers.length + b) * plane);
        maps.push(v);
      }
      const { fused, thresholds } = fuseBlocks(maps, plane, o.fusion);
      fusedAll.set(fused, i * plane);
      fusionThresholds.push(thresholds);
    }
    const perLayer = <T>(f: (s: { channels: number[]; threshold: number }, i: number) => T): Record<string, T[]> =>
      Object.fromEntries(names.map((nm, b) => [nm, selected.map((perImage, i) => f(perImage[b] as { channels: number[]; threshold: number }, i))]));
    const masks = perLayer((s) => s.channels.length);
    return {
      values: tf.tensor3d(fusedAll, [n, hh, ww]),
      signed: false,
      layer: names,
      extras: {
        masks,
        channels: perLayer((s) => s.channels),
        selectionThresholds: perLayer((s) => s.threshold),
        featureMaps: Object.fromEntries(names.map((nm, b) => [nm, featureMaps[b] as number])),
        forwardPasses: jobs.map((j) => 1 + j.length),
        backwardPasses: 1,
        blockMaps: tf.tensor4d(blocksAll, [n, layers.length, hh, ww]),
        fusionThresholds: Object.fromEntries(names.map((nm, b) => [nm, fusionThresholds.map((t) => t[b] as number)])),
        scores: o.scores,
        fusion: o.fusion,
      },
    };
  } finally {
    activations.forEach((a) => a.dispose());
    accumulators.forEach((acc) => acc.forEach((t) => t?.dispose()));
    if (!res.output.isDisposed) tf.dispose([...Object.values(res.gradients), res.output, res.scores]);
  }
}

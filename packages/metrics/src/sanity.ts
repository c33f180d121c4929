import * as tf from '@tensorflow/tfjs-core';
import { loadLayersModel, type LayersModel, type layers as tflLayers } from '@tensorflow/tfjs-layers';
import {
  AbortError,
  BlackBoxModel,
  CnnXaiError,
  createRandom,
  explain,
  ModelTap,
  opt,
  resolveOptions,
  type AnyExplainer,
  type Attribution,
  type RandomStream,
  type Registry,
  type Target,
} from '@cnn-xai/core';
import { meanOf, type MetricModel } from './common.js';
import { absNorm, divergingNorm, norm01, spearman, ssim } from './stats.js';
import type { MetricResult } from './types.js';

type Layer = tflLayers.Layer;

export const RANDOMISATION_MODES = ['cascading', 'independent'] as const;
export type RandomisationMode = (typeof RANDOMISATION_MODES)[number];

export const sanityOptions = {
  mode: opt.choice({
    default: 'cascading',
    choices: RANDOMISATION_MODES,
    description: 'cascading: randomise from the top (logits) layer down, cumulatively; independent: one layer at a time, the others trained (Adebayo et al.).',
  }),
  layers: opt.layer({
    default: undefined,
    multiple: true,
    description: 'Layers to randomise (default: every layer with trainable weights), always taken from the top down.',
  }),
  blocks: opt.integer({
    default: 0,
    min: 0,
    max: 1000,
    description: 'Group the layers, top down, into this many consecutive blocks of nearly equal size and randomise a block per step (Adebayo et al. randomise Inception block by block); 0: one layer per step.',
  }),
  threshold: opt.number({
    default: 0.5,
    min: 0,
    max: 1,
    description: 'The method is flagged (fails the check) when the mean over the randomisation steps of |Spearman (abs)| is at or above this.',
  }),
};

export interface SanityRequest {
  /** A tf.LayersModel (or a tap of one): the check needs its weights. It is never changed. */
  model: MetricModel;
  /** [N, H, W, C] float32 images. */
  input: tf.Tensor;
  /** The explainer (or its id) to check. */
  explainer: AnyExplainer | string;
  explainerOptions?: Record<string, unknown>;
  /** The classes explained, on every model (default: the trained model's prediction). */
  target?: Target;
  /** The trained model's maps, when already computed (saves one explanation). */
  attribution?: Attribution;
  registry?: Registry;
  /** Seed of the re-initialisation (and of the explainer's random stream). Default 0. */
  seed?: number;
  options?: Record<string, unknown>;
  signal?: AbortSignal;
  onProgress?: (fraction: number) => void;
}

/** The similarity of the maps of one randomised model to the trained model's maps. */
export interface SanityStep {
  /** The (topmost) layer randomised at this step (cascading: with every layer above it). */
  layer: string;
  /** The layers randomised at this step: one, or a block of them with the `blocks` option. */
  block: string[];
  /** All layers randomised in this model. */
  randomised: string[];
  /** Mean over images of Spearman's rank correlation of the absolute-normalised maps. */
  spearmanAbs: number;
  /** Mean over images of Spearman's rank correlation of the signed (diverging) maps. */
  spearman: number;
  /** Mean over images of SSIM of the [0, 1]-scaled absolute maps. */
  ssim: number;
  perImage: { spearmanAbs: number[]; spearman: number[]; ssim: number[] };
}

export interface SanityResult extends MetricResult {
  details: {
    mode: RandomisationMode;
    steps: SanityStep[];
    /** The mean over the steps of each similarity: the verdict and `value` use its spearmanAbs. */
    summary: { spearmanAbs: number; spearman: number; ssim: number };
    /** The similarities of the last step (cascading: every layer randomised). */
    final: { spearmanAbs: number; spearman: number; ssim: number };
    /** True when the maps stay similar to the trained model's (|Spearman| >= threshold): the method fails the check. */
    flagged: boolean;
    classes: number[];
  };
}

function isContainer(layer: Layer): layer is Layer & LayersModel {
  const l = layer as unknown as { layers?: unknown; inputs?: unknown; outputs?: unknown };
  return Array.isArray(l.layers) && Array.isArray(l.inputs) && Array.isArray(l.outputs);
}

/** Layers with trainable weights, in model order (nested models expanded as `outer/inner`). */
export function weightedLayers(model: LayersModel, prefix = ''): Array<{ name: string; layer: Layer }> {
  const out: Array<{ name: string; layer: Layer }> = [];
  for (const layer of model.layers) {
    if (isContainer(layer)) out.push(...weightedLayers(layer, `${prefix}${layer.name}/`));
    else if (layer.trainableWeights.length > 0) out.push({ name: `${prefix}${layer.name}`, layer });
  }
  return out;
}

/** A deep copy of a LayersModel (topology and weights), through tf.io's in-memory handlers. */
export async function cloneModel(model: LayersModel): Promise<LayersModel> {
  let artifacts: tf.io.ModelArtifacts | undefined;
  await model.save(
    tf.io.withSaveHandler(async (a) => {
      artifacts = a;
      return { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON' } };
    }),
  );
  if (!artifacts) throw new CnnXaiError('UNSUPPORTED_MODEL', 'The model could not be serialised for the sanity check.');
  return loadLayersModel(tf.io.fromMemory(artifacts));
}

/** Truncated normal (|z| <= 2) values with the mean and standard deviation of `values`. */
function sameScale(values: Float32Array, rnd: RandomStream): Float32Array {
  let mean = 0;
  for (const v of values) mean += v;
  mean /= values.length || 1;
  let varSum = 0;
  for (const v of values) varSum += (v - mean) ** 2;
  const std = Math.sqrt(varSum / (values.length || 1));
  const out = new Float32Array(values.length);
  for (let i = 0; i < out.length; i++) {
    let z = rnd.normal();
    while (Math.abs(z) > 2) z = rnd.normal();
    out[i] = mean + std * z;
  }
  return out;
}

/** Re-initialises a layer's trainable weights with seeded values of the same scale. */
function randomiseLayer(layer: Layer, rnd: RandomStream): void {
  for (const v of layer.trainableWeights) {
    const cur = v.read();
    const t = tf.tensor(sameScale(cur.dataSync() as Float32Array, rnd), cur.shape, 'float32');
    v.write(t);
    t.dispose();
  }
}

/** Copies a layer's trainable weights from the same layer of the trained model. */
function restoreLayer(layer: Layer, from: Layer): void {
  layer.trainableWeights.forEach((v, i) => {
    const t = tf.clone(from.trainableWeights[i]?.read() as tf.Tensor);
    v.write(t);
    t.dispose();
  });
}

/** One image's map as H*W (or H*W*C) values. */
function mapsOf(values: tf.Tensor): { data: Float32Array; n: number; h: number; w: number; c: number } {
  const [n, h, w] = values.shape as [number, number, number];
  const c = values.rank === 4 ? (values.shape[3] as number) : 1;
  return { data: values.dataSync() as Float32Array, n, h, w, c };
}

/** Spearman where a constant map counts as sharing no rank order (0; scipy would give NaN). */
const rankCorrelation = (a: ArrayLike<number>, b: ArrayLike<number>): number => {
  const r = spearman(a, b);
  return Number.isNaN(r) ? 0 : r;
};

function compare(orig: ReturnType<typeof mapsOf>, rand: ReturnType<typeof mapsOf>) {
  const { n, h, w, c } = orig;
  const per = h * w * c;
  const res = { spearmanAbs: [] as number[], spearman: [] as number[], ssim: [] as number[] };
  for (let i = 0; i < n; i++) {
    const a = { values: orig.data.subarray(i * per, (i + 1) * per), h, w, c };
    const b = { values: rand.data.subarray(i * per, (i + 1) * per), h, w, c };
    const aa = absNorm(a);
    const ba = absNorm(b);
    res.spearmanAbs.push(rankCorrelation(aa, ba));
    res.spearman.push(rankCorrelation(divergingNorm(a), divergingNorm(b)));
    res.ssim.push(ssim(norm01(aa), norm01(ba), h, w));
  }
  return res;
}

/**
 * Model-parameter randomisation test (Adebayo et al., Sanity Checks for Saliency Maps): the
 * layers with trainable weights are re-initialised from the top (logits) layer down, either
 * cumulatively (`cascading`) or one at a time (`independent`), and the method's maps on each
 * randomised model are compared with its maps on the trained model: Spearman rank correlation of
 * the absolute-normalised maps and of the signed maps, and SSIM. A method whose maps do not
 * depend on the weights keeps correlations near 1 and is flagged.
 *
 * Re-initialisation: every trainable weight tensor of a layer gets independent truncated-normal
 * values (|z| <= 2) with the mean and standard deviation of the trained tensor (the same scale);
 * BatchNorm moving statistics (not trainable) are kept. The draws are seeded (`seed`), one stream
 * per layer. The work happens on a copy of the model; the caller's model is never changed.
 *
 * `value` is `details.summary.spearmanAbs`, the mean over the steps of the mean |·|-Spearman: for
 * cascading the (normalised) area under the cascading curve, for independent the mean over layers.
 * Lower is better (the maps change with the weights); at or above `threshold` the method is flagged.
 */
export async function modelRandomisation(req: SanityRequest): Promise<SanityResult> {
  const o = resolveOptions('sanity-check', sanityOptions, req.options ?? {});
  if (req.model instanceof BlackBoxModel) {
    throw new CnnXaiError('UNSUPPORTED_MODEL', 'The sanity check re-initialises the model\'s weights and needs a tf.LayersModel, not a black box.');
  }
  const model = req.model instanceof ModelTap ? req.model.model : req.model;
  const all = weightedLayers(model);
  if (all.length === 0) throw new CnnXaiError('UNSUPPORTED_MODEL', 'The model has no layer with trainable weights to randomise.');
  const wanted = o.layers === undefined ? null : Array.isArray(o.layers) ? o.layers : [o.layers];
  if (wanted) {
    for (const name of wanted) {
      if (!all.some((l) => l.name === name)) {
        throw new CnnXaiError('UNKNOWN_LAYER', `The model has no layer "${name}" with trainable weights.`, `Layers with weights: ${all.map((l) => l.name).join(', ')}.`);
      }
    }
  }
  // Top down; every layer has its own stream, so a layer gets the same values in both modes.
  const root = createRandom(req.seed ?? 0);
  const topDown = [...all].reverse().map((l) => ({ ...l, rnd: root.fork() })).filter((l) => !wanted || wanted.includes(l.name));
  const input = req.input as tf.Tensor4D;
  const seed = req.seed ?? 0;
  const registry = req.registry;
  const run = (m: LayersModel | ModelTap, target: Target | undefined): Promise<Attribution> =>
    explain(req.explainer, {
      model: m,
      input,
      ...(target !== undefined ? { target } : {}),
      options: req.explainerOptions ?? {},
      seed,
      ...(registry ? { registry } : {}),
    });
  // Consecutive blocks of nearly equal size, top down (one layer per block unless `blocks` is set).
  const nb = o.blocks > 0 ? Math.min(o.blocks, topDown.length) : topDown.length;
  const blocks = Array.from({ length: nb }, (_, k) =>
    topDown.slice(Math.floor((k * topDown.length) / nb), Math.floor(((k + 1) * topDown.length) / nb)),
  );
  const total = blocks.length + 1;
  const own = req.attribution ? null : await run(req.model, req.target);
  const orig = req.attribution ?? (own as Attribution);
  let copy: LayersModel | null = null;
  try {
    const classes = orig.target ?? null;
    if (!classes) throw new CnnXaiError('BAD_TARGET', 'The sanity check compares maps of class indices; the attribution has no class target.');
    const origMaps = mapsOf(orig.values);
    req.onProgress?.(1 / total);
    copy = await cloneModel(model);
    const copyLayers = weightedLayers(copy);
    const byName = new Map(copyLayers.map((l) => [l.name, l.layer]));
    const trained = new Map(all.map((l) => [l.name, l.layer]));
    const steps: SanityStep[] = [];
    let previous: typeof topDown = [];
    const randomised: string[] = [];
    for (const [k, block] of blocks.entries()) {
      if (req.signal?.aborted) throw new AbortError(req.signal.reason);
      if (o.mode === 'independent') for (const p of previous) restoreLayer(byName.get(p.name) as Layer, trained.get(p.name) as Layer);
      for (const l of block) randomiseLayer(byName.get(l.name) as Layer, createRandom(l.rnd.seed));
      previous = block;
      const names = block.map((l) => l.name);
      if (o.mode === 'cascading') randomised.push(...names);
      const attr = await run(copy, classes);
      try {
        const sims = compare(origMaps, mapsOf(attr.values));
        steps.push({
          layer: names[0] as string,
          block: names,
          randomised: o.mode === 'cascading' ? [...randomised] : names,
          spearmanAbs: meanOf(sims.spearmanAbs),
          spearman: meanOf(sims.spearman),
          ssim: meanOf(sims.ssim),
          perImage: sims,
        });
      } finally {
        attr.dispose();
      }
      req.onProgress?.((k + 2) / total);
    }
    const n = input.shape[0];
    // The summary averages the steps: for cascading, the area under the cascading curve (a method
    // whose maps survive the randomisation of the top layers scores high even when the fully
    // randomised model finally changes them); for independent, the mean over layers.
    const summary = {
      spearmanAbs: meanOf(steps.map((s) => s.spearmanAbs)),
      spearman: meanOf(steps.map((s) => s.spearman)),
      ssim: meanOf(steps.map((s) => s.ssim)),
    };
    const last = steps[steps.length - 1] as SanityStep;
    const final = { spearmanAbs: last.spearmanAbs, spearman: last.spearman, ssim: last.ssim };
    const perImage = Array.from({ length: n }, (_, i) => meanOf(steps.map((s) => s.perImage.spearmanAbs[i] as number)));
    return {
      metric: `sanity-${o.mode}`,
      value: summary.spearmanAbs,
      perImage,
      details: { mode: o.mode, steps, summary, final, flagged: Math.abs(summary.spearmanAbs) >= o.threshold, classes },
      options: { ...o, layers: topDown.map((l) => l.name), blocks: blocks.length, seed },
    };
  } finally {
    own?.dispose();
    copy?.dispose();
  }
}

import * as tf from '@tensorflow/tfjs-core';
import {
  BASELINES,
  CnnXaiError,
  createRandom,
  makeBaseline,
  opt,
  yieldToEventLoop,
  type ExplainContext,
} from '@cnn-xai/core';
import { slic } from './slic.js';

/**
 * What LIME and KernelSHAP share: the interpretable features (superpixels, grid cells or a
 * custom mask), the fill of hidden features, and the batched evaluation of coalitions through
 * `ctx.model.predict`.
 */

export const FEATURE_KINDS = ['slic', 'grid'] as const;
export type FeatureKind = (typeof FEATURE_KINDS)[number];

/** Baselines: core's (`zeros`, `blur`, `uniform`, `mean`) plus LIME's per-superpixel mean colour. */
export const SURROGATE_BASELINES = ['segment-mean', ...BASELINES] as const;
export type SurrogateBaseline = (typeof SURROGATE_BASELINES)[number];

/** Options of the interpretable features, shared by `lime` and `kernel-shap`. */
export const featureOptions = {
  features: opt.choiceOrValue({
    choices: FEATURE_KINDS,
    default: 'slic',
    description:
      "Interpretable features: 'slic' superpixels (per image, from its colours), 'grid' cells, or (from the API) an integer feature mask [H, W] (or [N, H, W]) of feature ids, as Captum's feature_mask.",
  }),
  segments: opt.integer({
    default: 50,
    min: 1,
    max: 10000,
    description: "About how many superpixels SLIC makes ('slic'), and the cell count 'grid' aims at when grid is 0.",
  }),
  compactness: opt.number({
    default: 10,
    min: 0.01,
    max: 1000,
    description: "SLIC's balance of colour against position (the paper's m); larger gives squarer superpixels.",
  }),
  grid: opt.integer({
    default: 0,
    min: 0,
    max: 4096,
    description: "Cell side in pixels for features 'grid'; 0 picks the side that gives about `segments` cells.",
  }),
} as const;

/** Interpretable features of each image: a label per pixel (0..count-1). */
export interface FeatureMasks {
  /** Per image, `[H * W]` feature ids. */
  masks: Int32Array[];
  /** Per image, the number of features M. */
  counts: number[];
}

/** Cell side of the `grid` features: the option, or about `segments` cells when it is 0. */
export function gridSide(h: number, w: number, grid: number, segments: number): number {
  if (grid > 0) return grid;
  return Math.max(1, Math.round(Math.sqrt((h * w) / Math.max(1, segments))));
}

/** Regular grid cells of side `side`: id = (r // side) * ceil(W / side) + c // side. */
export function gridMask(h: number, w: number, side: number): Int32Array {
  const cols = Math.ceil(w / side);
  const out = new Int32Array(h * w);
  for (let r = 0; r < h; r++) for (let c = 0; c < w; c++) out[r * w + c] = Math.floor(r / side) * cols + Math.floor(c / side);
  return out;
}

/** Renumbers ids to 0..M-1 in increasing order of the ids (identity for masks already 0..M-1). */
export function compactIds(ids: ArrayLike<number>): { mask: Int32Array; count: number } {
  const distinct = Array.from(new Set(Array.from(ids))).sort((a, b) => a - b);
  const index = new Map(distinct.map((v, i) => [v, i]));
  const mask = new Int32Array(ids.length);
  for (let i = 0; i < ids.length; i++) mask[i] = index.get(ids[i] as number) as number;
  return { mask, count: distinct.length };
}

function badMask(problem: string, h: number, w: number, n: number): never {
  throw new CnnXaiError(
    'BAD_OPTION_VALUE',
    `The feature mask ${problem}.`,
    `Give non-negative integer feature ids shaped [${h}, ${w}] (one mask for every image) or [${n}, ${h}, ${w}] (one per image).`,
  );
}

/** Shape of a nested array (by its first elements). */
function nestedShape(a: unknown): number[] {
  const shape: number[] = [];
  let v = a;
  while (Array.isArray(v)) {
    shape.push(v.length);
    v = v[0];
  }
  return shape;
}

/** A custom mask from the API (tensor, nested array or flat typed array) as per-image id arrays. */
async function customMasks(value: unknown, n: number, h: number, w: number): Promise<FeatureMasks> {
  let flat: ArrayLike<number>;
  let shape: number[] | null;
  if (value instanceof tf.Tensor) {
    flat = await value.data();
    shape = [...value.shape];
  } else if (Array.isArray(value)) {
    flat = value.flat(Infinity) as number[];
    shape = nestedShape(value);
  } else if (ArrayBuffer.isView(value) && !(value instanceof DataView)) {
    flat = value as unknown as ArrayLike<number>;
    shape = null;
  } else {
    return badMask(`is ${typeof value === 'number' ? 'a number' : JSON.stringify(value) ?? typeof value}`, h, w, n);
  }
  const per = h * w;
  if (shape) {
    const s = shape[shape.length - 1] === 1 && shape.length > 2 ? shape.slice(0, -1) : shape;
    const fits = (s.length === 2 && s[0] === h && s[1] === w) || (s.length === 3 && (s[0] === n || s[0] === 1) && s[1] === h && s[2] === w);
    if (!fits) badMask(`has shape [${shape.join(', ')}] for inputs of shape [${n}, ${h}, ${w}, C]`, h, w, n);
  }
  if (flat.length !== per && flat.length !== n * per) badMask(`has ${flat.length} values for images of ${h} x ${w} pixels`, h, w, n);
  for (let i = 0; i < flat.length; i++) {
    const v = flat[i] as number;
    if (!Number.isInteger(v) || v < 0) badMask(`holds ${v} at position ${i}; ids must be non-negative integers`, h, w, n);
  }
  const masks: Int32Array[] = [];
  const counts: number[] = [];
  for (let i = 0; i < n; i++) {
    const part = flat.length === per ? flat : Array.prototype.slice.call(flat, i * per, (i + 1) * per);
    const { mask, count } = i > 0 && flat.length === per ? { mask: masks[0] as Int32Array, count: counts[0] as number } : compactIds(part);
    masks.push(mask);
    counts.push(count);
  }
  return { masks, counts };
}

export interface FeatureSettings {
  features: unknown;
  segments: number;
  compactness: number;
  grid: number;
}

/** The interpretable features of every image of the batch. */
export async function featureMasks(x: tf.Tensor4D, pixels: Float32Array, o: FeatureSettings): Promise<FeatureMasks> {
  const [n, h, w, c] = x.shape;
  if (o.features === 'grid') {
    const mask = gridMask(h, w, gridSide(h, w, o.grid, o.segments));
    const { count } = compactIds(mask);
    return { masks: Array.from({ length: n }, () => mask), counts: new Array<number>(n).fill(count) };
  }
  if (o.features === 'slic') {
    const per = h * w * c;
    const masks: Int32Array[] = [];
    const counts: number[] = [];
    for (let i = 0; i < n; i++) {
      const r = slic(pixels.subarray(i * per, (i + 1) * per), h, w, c, { segments: o.segments, compactness: o.compactness });
      masks.push(r.labels);
      counts.push(r.count);
    }
    return { masks, counts };
  }
  return customMasks(o.features, n, h, w);
}

/** Every image's mask as one int32 tensor `[N, H, W]` (for the result's extras). */
export function maskTensor(f: FeatureMasks, h: number, w: number): tf.Tensor3D {
  const per = h * w;
  const all = new Int32Array(f.masks.length * per);
  f.masks.forEach((m, i) => all.set(m, i * per));
  return tf.tensor3d(all, [f.masks.length, h, w], 'int32');
}

/** Per image and feature, the mean colour of the feature's pixels (LIME's `hide_color=None`). */
function segmentMeans(pixels: Float32Array, f: FeatureMasks, h: number, w: number, c: number): Float32Array {
  const per = h * w;
  const out = new Float32Array(pixels.length);
  f.masks.forEach((mask, i) => {
    const m = f.counts[i] as number;
    const sums = new Float64Array(m * c);
    const counts = new Float64Array(m);
    for (let p = 0; p < per; p++) {
      const id = mask[p] as number;
      counts[id] = (counts[id] as number) + 1;
      for (let k = 0; k < c; k++) sums[id * c + k] = (sums[id * c + k] as number) + (pixels[(i * per + p) * c + k] as number);
    }
    for (let p = 0; p < per; p++) {
      const id = mask[p] as number;
      for (let k = 0; k < c; k++) out[(i * per + p) * c + k] = (sums[id * c + k] as number) / (counts[id] as number);
    }
  });
  return out;
}

/**
 * The values hidden features take, `[N, H, W, C]`: `segment-mean` (each feature's own mean
 * colour), core's named baselines (`uniform` is drawn per image from `seed`, so an image gets
 * the same baseline alone or in a batch), a number, or an array/tensor.
 */
export function fillValues(x: tf.Tensor4D, pixels: Float32Array, f: FeatureMasks, baseline: unknown, seed: number): tf.Tensor4D {
  const [n, h, w, c] = x.shape;
  if (baseline === 'segment-mean') return tf.tensor4d(segmentMeans(pixels, f, h, w, c), [n, h, w, c]);
  if (baseline === 'uniform') {
    return tf.tidy(() => {
      const parts = Array.from({ length: n }, (_, i) =>
        makeBaseline(tf.slice(x, [i, 0, 0, 0], [1, -1, -1, -1]), 'uniform', { random: createRandom(seed) }),
      );
      return (n === 1 ? parts[0] : tf.concat(parts, 0)) as tf.Tensor4D;
    });
  }
  return makeBaseline(x, baseline);
}

/** Coalitions of one image: `rows x M` zeros and ones (1: the feature keeps its pixels). */
export interface CoalitionSet {
  z: Uint8Array;
  rows: number;
  m: number;
}

export interface Evaluation {
  /** Per image, the target score of every coalition (Float64). */
  scores: Float64Array[];
  /** Per image and coalition, the cosine similarity of the perturbed image to the original (when asked). */
  cosine?: Float64Array[];
}

/**
 * Runs every image's coalitions through `ctx.model.predict`, `batchSize` perturbed images per
 * call (rows of several images share a batch), and returns the target scores. A perturbed image
 * is `fill + mask * (x - fill)`, the mask being 1 on the pixels of kept features. Between
 * batches it checks the abort signal, reports progress and yields to the event loop; the scores
 * are read back once, after the last batch.
 */
export async function evaluateCoalitions(
  ctx: ExplainContext,
  x: tf.Tensor4D,
  fill: tf.Tensor4D,
  f: FeatureMasks,
  sets: readonly CoalitionSet[],
  batchSize: number,
  opts: { cosine?: boolean } = {},
): Promise<Evaluation> {
  const [n, h, w] = x.shape;
  const per = h * w;
  const total = sets.reduce((s, k) => s + k.rows, 0);
  const scores = sets.map((k) => new Float64Array(k.rows));
  const cosine = opts.cosine ? sets.map((k) => new Float64Array(k.rows)) : undefined;
  // Flat list of (image, row) pairs in order.
  const rowImage = new Int32Array(total);
  const rowIndex = new Int32Array(total);
  let at = 0;
  sets.forEach((k, i) => {
    for (let r = 0; r < k.rows; r++) {
      rowImage[at] = i;
      rowIndex[at++] = r;
    }
  });
  const diff = tf.sub(x, fill);
  // Scores (and similarities) stay on the device until every batch has run: one read at the end.
  const scoreParts: tf.Tensor[] = [];
  const simParts: tf.Tensor[] = [];
  let allScores: Float32Array;
  let allSims: Float32Array | null = null;
  try {
    for (let s = 0; s < total; s += batchSize) {
      ctx.throwIfAborted();
      const e = Math.min(total, s + batchSize);
      const rows = e - s;
      const images = Array.from(rowImage.subarray(s, e));
      const maskBuf = new Float32Array(rows * per);
      for (let r = 0; r < rows; r++) {
        const i = images[r] as number;
        const set = sets[i] as CoalitionSet;
        const mask = f.masks[i] as Int32Array;
        const row = rowIndex[s + r] as number;
        const z = set.z.subarray(row * set.m, (row + 1) * set.m);
        const o = r * per;
        for (let p = 0; p < per; p++) maskBuf[o + p] = z[mask[p] as number] as number;
      }
      const idx = tf.tensor1d(images, 'int32');
      const perturbed = tf.tidy(() => {
        const m = tf.tensor4d(maskBuf, [rows, h, w, 1]);
        return tf.add(tf.gather(fill, idx), tf.mul(m, tf.gather(diff, idx))) as tf.Tensor4D;
      });
      let out: tf.Tensor | null = null;
      try {
        out = await ctx.model.predict(perturbed);
        scoreParts.push(ctx.target.score(out, images));
        if (opts.cosine) {
          // torch.nn.CosineSimilarity: x . y / max(|x| |y|, 1e-8).
          simParts.push(
            tf.tidy(() => {
              const orig = tf.gather(x, idx);
              const dot = tf.sum(tf.mul(perturbed, orig), [1, 2, 3]);
              const norms = tf.mul(tf.sqrt(tf.sum(tf.square(perturbed), [1, 2, 3])), tf.sqrt(tf.sum(tf.square(orig), [1, 2, 3])));
              return tf.div(dot, tf.maximum(norms, 1e-8));
            }),
          );
        }
      } finally {
        idx.dispose();
        perturbed.dispose();
        out?.dispose();
      }
      ctx.progress(e / total);
      await yieldToEventLoop();
    }
    const joined = tf.concat(scoreParts, 0);
    allScores = (await joined.data()) as Float32Array;
    joined.dispose();
    if (opts.cosine) {
      const sims = tf.concat(simParts, 0);
      allSims = (await sims.data()) as Float32Array;
      sims.dispose();
    }
  } finally {
    diff.dispose();
    tf.dispose(scoreParts);
    tf.dispose(simParts);
  }
  for (let r = 0; r < total; r++) {
    const i = rowImage[r] as number;
    const row = rowIndex[r] as number;
    (scores[i] as Float64Array)[row] = allScores[r] as number;
    if (cosine && allSims) (cosine[i] as Float64Array)[row] = allSims[r] as number;
  }
  if (n !== sets.length) throw new Error('cnn-xai internal: one coalition set per image expected');
  return cosine ? { scores, cosine } : { scores };
}

/** The map `[N, H, W]`: each pixel gets its feature's value. */
export function featureMap(f: FeatureMasks, values: ArrayLike<number>[], h: number, w: number): tf.Tensor3D {
  const per = h * w;
  const out = new Float32Array(f.masks.length * per);
  f.masks.forEach((mask, i) => {
    const v = values[i] as ArrayLike<number>;
    for (let p = 0; p < per; p++) out[i * per + p] = v[mask[p] as number] as number;
  });
  return tf.tensor3d(out, [f.masks.length, h, w]);
}

/** Seed for an explanation's coalitions: one draw from ctx.random, the same for every image. */
export function drawSeed(ctx: ExplainContext): number {
  return ctx.random.int(4294967296);
}

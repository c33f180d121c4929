import * as tf from '@tensorflow/tfjs-core';
import type { LayersModel } from '@tensorflow/tfjs-layers';
import {
  BlackBoxModel,
  classScores,
  CnnXaiError,
  ModelTap,
  resolveTargetWith,
  type Attribution,
  type Predictor,
  type Target,
} from '@cnn-xai/core';

/** What a metric accepts as the model: as `explain()` does. */
export type MetricModel = LayersModel | ModelTap | BlackBoxModel;

/** An attribution as `explain()` returns it, or its values alone ([N, H, W] or [N, H, W, C]). */
export type AttributionLike = Attribution | tf.Tensor;

/**
 * How the model's output becomes the score of a class. `softmax` (default): the softmax of the
 * output (probabilities from logits, as RISE, Grad-CAM++ and SISE report). `raw`: the output as it
 * is (logits for a LayersModel, since the tap leaves a final softmax out; use it for a black box
 * that already returns probabilities).
 */
export type ScoreMode = 'softmax' | 'raw';

export const SCORE_MODES = ['softmax', 'raw'] as const;

export function attributionValues(a: AttributionLike): tf.Tensor {
  return a instanceof tf.Tensor ? a : a.values;
}

export function attributionTarget(a: AttributionLike): number[] | null {
  return a instanceof tf.Tensor ? null : a.target;
}

/** The model as a scores function, and `release()` that disposes the tap made for it (if one was). */
export function predictorOf(model: MetricModel): { predictor: Predictor & (ModelTap | BlackBoxModel); release(): void } {
  if (model instanceof BlackBoxModel || model instanceof ModelTap) return { predictor: model, release: () => {} };
  const tap = new ModelTap(model);
  return { predictor: tap, release: () => tap.dispose() };
}

/** Number of classes of a model, when known. */
export function numClassesOf(p: ModelTap | BlackBoxModel): number | null {
  if (p instanceof BlackBoxModel) return p.numClasses;
  const shape = p.model.outputs[0]?.shape;
  const k = shape?.[shape.length - 1];
  return typeof k === 'number' ? k : null;
}

/** Checks an input batch: a float32 [N, H, W, C] tensor the model takes. */
export function checkBatch(input: tf.Tensor, p: Predictor, what = 'metric'): tf.Tensor4D {
  if (!(input instanceof tf.Tensor)) {
    throw new CnnXaiError('BAD_INPUT_SHAPE', `The ${what} needs the input images as a tf.Tensor [N, H, W, C].`);
  }
  p.checkInput(input);
  return input;
}

/**
 * Checks that an attribution fits the input [N, H, W, C]: [N, H, W] or [N, H, W, C'] with the
 * same N, H, W. Returns [N, H, W].
 */
export function checkAttribution(values: tf.Tensor, input: tf.Tensor4D, what = 'metric'): [number, number, number] {
  const [n, h, w, c] = input.shape;
  const ok =
    (values.rank === 3 || values.rank === 4) &&
    values.shape[0] === n &&
    values.shape[1] === h &&
    values.shape[2] === w;
  if (!ok) {
    throw new CnnXaiError(
      'BAD_INPUT_SHAPE',
      `The attribution given to the ${what} has shape [${values.shape.join(', ')}], but for inputs of shape [${input.shape.join(', ')}] it must be [${n}, ${h}, ${w}] or [${n}, ${h}, ${w}, ${c}].`,
      'Pass the map explain() returned for this very batch.',
    );
  }
  return [n, h, w];
}

/**
 * The attribution as one row of H*W saliency values per image: channels are summed
 * ([N, H, W, C] -> [N, H, W]), as RISE's and SISE's evaluation code sum a map over channels.
 */
export function saliencyRows(values: tf.Tensor, n: number, h: number, w: number): Float32Array[] {
  const flat = tf.tidy(() => {
    const f = tf.cast(values, 'float32');
    return tf.reshape(values.rank === 4 ? tf.sum(f, 3) : f, [n, h * w]);
  });
  const data = flat.dataSync() as Float32Array;
  flat.dispose();
  const rows: Float32Array[] = [];
  for (let i = 0; i < n; i++) {
    const row = data.slice(i * h * w, (i + 1) * h * w);
    for (const v of row) {
      if (!Number.isFinite(v)) {
        throw new CnnXaiError('BAD_INPUT_SHAPE', `The attribution of image ${i} has non-finite values (NaN or Infinity).`, 'Metrics need finite maps.');
      }
    }
    rows.push(row);
  }
  return rows;
}

/**
 * Pixel indices by decreasing saliency; equal values keep the row-major order (the lower index
 * first), so the order is deterministic on every platform.
 */
export function orderByDecreasing(values: ArrayLike<number>): Uint32Array {
  const idx = new Uint32Array(values.length);
  for (let i = 0; i < idx.length; i++) idx[i] = i;
  idx.sort((a, b) => (values[b] as number) - (values[a] as number) || a - b);
  return idx;
}

/** rank[p] = position of pixel p in the decreasing order (0 = most salient). */
export function ranksOf(values: ArrayLike<number>): Float32Array {
  const order = orderByDecreasing(values);
  const ranks = new Float32Array(values.length);
  for (let k = 0; k < order.length; k++) ranks[order[k] as number] = k;
  return ranks;
}

/**
 * Resolves the classes to score, one per image: the attribution's target when it has one and no
 * target is given, else `top` (the predicted class), a class index, or one per image.
 */
export async function resolveClasses(
  target: Target | undefined,
  fallback: number[] | null,
  p: ModelTap | BlackBoxModel,
  input: tf.Tensor4D,
): Promise<number[]> {
  if (typeof target === 'function') {
    throw new CnnXaiError('BAD_TARGET', 'Metrics score class indices; a target function cannot be used here.', 'Give "top", a class index, or one per image.');
  }
  if (target === undefined && fallback) {
    return resolveTargetWith(fallback, input.shape[0], numClassesOf(p), () => []).classes as number[];
  }
  let top: number[] = [];
  if (target === undefined || target === 'top') {
    const out = await p.predict(input);
    top = tf.tidy(() => Array.from(tf.argMax(tf.reshape(out, [input.shape[0], -1]), 1).dataSync()));
    out.dispose();
  }
  return resolveTargetWith(target, input.shape[0], numClassesOf(p), () => top).classes as number[];
}

/**
 * Scores of one class per row of a batch: `softmax` or `raw` model output, in chunks of
 * `batchSize` rows. Returns a plain array (one value per row).
 */
export async function classScoresOf(
  p: Predictor,
  batch: tf.Tensor4D,
  classes: readonly number[],
  mode: ScoreMode,
): Promise<Float32Array> {
  const n = batch.shape[0];
  const out = await p.predict(batch);
  const s = tf.tidy(() => {
    const o = tf.reshape(out, [n, -1]);
    return classScores(mode === 'softmax' ? tf.softmax(o) : o, classes);
  });
  out.dispose();
  const v = (await s.data()) as Float32Array;
  s.dispose();
  return v;
}

/** Mean of the finite values (NaN when there are none). */
export function meanOf(xs: readonly number[]): number {
  let s = 0;
  let k = 0;
  for (const x of xs) {
    if (Number.isFinite(x)) {
      s += x;
      k++;
    }
  }
  return k ? s / k : Number.NaN;
}

/** A yield between batches, so progress and abort signals get through. */
export const tick = (): Promise<void> => new Promise((r) => setTimeout(r, 0));

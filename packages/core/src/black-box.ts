import * as tf from '@tensorflow/tfjs-core';
import { CnnXaiError } from './errors.js';
import { batchRanges } from './tensor/batch.js';

/**
 * A model seen only through its scores: a batch `[N, H, W, C]` in, one row of scores per image
 * out (`[N, K]`, or `[N]` for a single score). It may return a promise, so models from other
 * runtimes (a tf.GraphModel, ONNX Runtime, a server) can be wrapped.
 */
export type ScoresFunction = (batch: tf.Tensor4D) => tf.Tensor | Promise<tf.Tensor>;

export interface BlackBoxOptions {
  /** The input shape without the batch dimension, e.g. `[224, 224, 3]`. */
  inputShape: readonly number[];
  /** The most images passed to the function at once (default 64). */
  batchSize?: number;
  /** Number of classes, when known: targets are checked against it. */
  numClasses?: number;
  /** A name for messages. */
  name?: string;
}

/**
 * What every explainer can ask of a model: run a batch and get its scores. A `ModelTap` is
 * one; a `BlackBoxModel` is one made from a plain function.
 */
export interface Predictor {
  readonly inputShape: readonly (number | null)[];
  /** Scores `[N, K]` for a batch (logits for a tap in logits mode). The caller owns the result. */
  predict(x: tf.Tensor): tf.Tensor | Promise<tf.Tensor>;
  checkInput(x: tf.Tensor): asserts x is tf.Tensor4D;
}

/**
 * A scores function as a model for black-box explainers (occlusion, RISE, LIME, KernelSHAP).
 * Batches larger than `batchSize` are split; each call's result is checked (one row per image,
 * finite shape) and its tensors are released.
 */
export class BlackBoxModel implements Predictor {
  readonly inputShape: readonly number[];
  readonly batchSize: number;
  readonly numClasses: number | null;
  readonly name: string;
  private readonly fn: ScoresFunction;

  constructor(fn: ScoresFunction, options: BlackBoxOptions) {
    if (typeof fn !== 'function') {
      throw new CnnXaiError('UNSUPPORTED_MODEL', 'blackBox() needs a function from an image batch to scores.', 'Pass (batch) => model.predict(batch).');
    }
    const shape = options?.inputShape;
    if (!Array.isArray(shape) || shape.length !== 3 || !shape.every((d) => Number.isInteger(d) && d > 0)) {
      throw new CnnXaiError(
        'BAD_INPUT_SHAPE',
        `blackBox() needs inputShape [H, W, C] of positive integers; got ${JSON.stringify(shape)}.`,
        'Give the shape of one image without the batch dimension, e.g. { inputShape: [64, 64, 3] }.',
      );
    }
    const batchSize = options.batchSize ?? 64;
    if (!Number.isInteger(batchSize) || batchSize < 1) {
      throw new CnnXaiError('BAD_OPTION_VALUE', `blackBox() batchSize must be a positive integer; got ${batchSize}.`, 'Use e.g. 32.');
    }
    this.fn = fn;
    this.inputShape = [...shape];
    this.batchSize = batchSize;
    this.numClasses = options.numClasses ?? null;
    this.name = options.name ?? 'black-box model';
  }

  checkInput(x: tf.Tensor): asserts x is tf.Tensor4D {
    const want = this.inputShape;
    if (x.rank !== 4 || want.some((d, i) => d !== x.shape[i + 1])) {
      throw new CnnXaiError(
        'BAD_INPUT_SHAPE',
        `The input has shape [${x.shape.join(', ')}] but ${this.name} takes [N, ${want.join(', ')}].`,
        x.rank === 3 ? 'Add a batch dimension (tf.expandDims(x, 0)).' : 'Resize/convert the image first.',
      );
    }
    if (x.dtype !== 'float32') {
      throw new CnnXaiError('BAD_INPUT_SHAPE', `The input has dtype ${x.dtype}.`, 'Pass float32 values.');
    }
  }

  /** Scores `[N, K]` for the batch, calling the function on chunks of at most `batchSize`. */
  async predict(x: tf.Tensor): Promise<tf.Tensor2D> {
    this.checkInput(x);
    const n = x.shape[0] as number;
    const parts: tf.Tensor2D[] = [];
    try {
      for (const [s, e] of batchRanges(n, this.batchSize)) {
        const chunk = (s === 0 && e === n ? x : tf.slice(x, [s, 0, 0, 0], [e - s, -1, -1, -1])) as tf.Tensor4D;
        let out: tf.Tensor;
        try {
          out = await this.fn(chunk);
        } finally {
          if (chunk !== x) chunk.dispose();
        }
        parts.push(this.check(out, e - s, chunk === x ? x : null));
      }
      if (parts.length === 1) return parts[0] as tf.Tensor2D;
      const all = tf.concat(parts, 0);
      parts.forEach((p) => p.dispose());
      parts.length = 0;
      return all;
    } catch (e) {
      parts.forEach((p) => p.dispose());
      throw e;
    }
  }

  private check(out: unknown, rows: number, input: tf.Tensor | null): tf.Tensor2D {
    if (!(out instanceof tf.Tensor)) {
      throw new CnnXaiError('UNSUPPORTED_MODEL', `${this.name} returned ${typeof out}, not a tensor.`, 'Return a tf.Tensor of scores [N, K] (or [N]).');
    }
    const bad = (why: string): never => {
      if (out !== input) out.dispose();
      throw new CnnXaiError('UNSUPPORTED_MODEL', `${this.name} returned scores of shape [${out.shape.join(', ')}] for ${rows} images: ${why}.`, 'Return one row of scores per image, [N, K] or [N].');
    };
    if (out.shape[0] !== rows) bad('the batch size differs');
    if (out.rank !== 1 && out.rank !== 2) bad('expected rank 1 or 2');
    const f = tf.tidy(() => tf.reshape(tf.cast(out, 'float32'), [rows, -1]) as tf.Tensor2D);
    if (this.numClasses !== null && f.shape[1] !== this.numClasses) {
      f.dispose();
      bad(`expected ${this.numClasses} classes`);
    }
    if (out !== input) out.dispose();
    return f;
  }
}

/**
 * Wraps a scores function as a model for black-box explainers:
 * `explain('occlusion', { model: blackBox((x) => graphModel.predict(x), { inputShape: [224, 224, 3] }), input })`.
 */
export function blackBox(fn: ScoresFunction, options: BlackBoxOptions): BlackBoxModel {
  return new BlackBoxModel(fn, options);
}

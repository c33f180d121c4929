import * as tf from '@tensorflow/tfjs-core';
import { CnnXaiError } from './errors.js';
import type { ModelTap } from './tap/tap.js';

/**
 * What to explain: a class index (or one per image), `top` (the predicted class of each
 * image), or a function from the model output `[N, K]` to one score per image.
 * Scores are logits by default (see TapOptions.output).
 */
export type Target = number | readonly number[] | 'top' | ((output: tf.Tensor) => tf.Tensor1D);

export interface ResolvedTarget {
  /** The class explained per image, or null for a custom function. */
  classes: number[] | null;
  /**
   * Per-row scores of an output batch. `rows[r]` is the image that row r belongs to (IG and
   * SmoothGrad put many path points or samples of one image in a batch); default: row r is image r.
   */
  score(output: tf.Tensor, rows?: readonly number[]): tf.Tensor1D;
}

/** Sum over classes of output times a one-hot mask: differentiable, one score per row. */
export function classScores(output: tf.Tensor, classes: readonly number[]): tf.Tensor1D {
  return tf.tidy(() => {
    const k = output.rank < 2 ? 1 : (output.shape[output.rank - 1] as number);
    // A single score per row ([N] or [N, 1], e.g. a black box or a sigmoid head): it is the score.
    if (k === 1) return tf.reshape(output, [-1]) as tf.Tensor1D;
    const mask = tf.cast(tf.oneHot(tf.tensor1d(classes as number[], 'int32'), k), 'float32');
    return tf.sum(tf.mul(tf.reshape(output, [-1, k]), mask), 1) as tf.Tensor1D;
  });
}

export function resolveTarget(target: Target | undefined, tap: ModelTap, input: tf.Tensor4D): ResolvedTarget {
  return resolveTargetWith(target, input.shape[0], outputClasses(tap), () =>
    tf.tidy(() => Array.from(tf.argMax(tf.reshape(tap.predict(input), [input.shape[0], -1]), 1).dataSync())),
  );
}

/**
 * Resolves a target for `n` images of a model with `numClasses` outputs (null: unknown);
 * `top` gives the predicted class of each image (called only for `top` or no target).
 */
export function resolveTargetWith(
  target: Target | undefined,
  n: number,
  numClasses: number | null,
  top: () => number[],
): ResolvedTarget {
  if (typeof target === 'function') {
    return { classes: null, score: (out) => target(out) };
  }
  let classes: number[];
  if (target === undefined || target === 'top') {
    classes = top();
  } else {
    classes = typeof target === 'number' ? new Array<number>(n).fill(target) : [...target];
    const k = numClasses;
    if (classes.length !== n) {
      throw new CnnXaiError('BAD_TARGET', `Got ${classes.length} targets for ${n} images.`, 'Give one class index, or one per image.');
    }
    for (const c of classes) {
      if (!Number.isInteger(c) || c < 0 || (k !== null && c >= k)) {
        throw new CnnXaiError('BAD_TARGET', `Target class ${c} is not a class of this model.`, `Use an integer in [0, ${(k ?? 1) - 1}] or "top".`);
      }
    }
  }
  const fixed = classes;
  return {
    classes: fixed,
    score: (output, rows) => classScores(output, rows ? rows.map((r) => fixed[r] as number) : fixed),
  };
}

function outputClasses(tap: ModelTap): number | null {
  const shape = tap.model.outputs[0]?.shape;
  const k = shape?.[shape.length - 1];
  return typeof k === 'number' ? k : null;
}

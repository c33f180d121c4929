import type * as tf from '@tensorflow/tfjs-core';
import { namedRule } from '../tap/relu-rules.js';
import type { ModelTap, ScoreFn } from '../tap/tap.js';
import { classScores } from '../targets.js';
import type { Op } from './protocol.js';

/**
 * One thread's share of a split call, the same code on the calling thread and in a worker: the
 * output (`predict`), or the gradient of `score` at the input (`gradient`) or at `layer` with the
 * layer's activation (`layerGradient`), with a named backward rule when given.
 */
export function runOp(tap: ModelTap, x: tf.Tensor, op: Op, score: ScoreFn | null, layer: string | null, rule: string | null): tf.Tensor[] {
  if (op === 'predict') return [tap.predict(x)];
  const r = tap.gradient(x, score as ScoreFn, {
    ...(op === 'layerGradient' ? { layer: layer as string } : {}),
    ...(rule ? { overrides: namedRule(rule) } : {}),
  });
  r.output.dispose();
  r.scores.dispose();
  if (op === 'layerGradient') return [r.gradient, r.activation as tf.Tensor];
  r.activation?.dispose();
  return [r.gradient];
}

/** The score a split gradient differentiates: each row's logit for its class (null for predict). */
export function scoresOf(classes: ArrayLike<number> | null): ScoreFn | null {
  if (!classes) return null;
  const list = Array.from(classes);
  return (out) => classScores(out, list);
}

import * as tf from '@tensorflow/tfjs-core';
import type { BackwardOverride, TapOp } from '@cnn-xai/core';
import type { DerivedCache } from './cache.js';
import type { LayerOp, Params } from './ops.js';
import type { LayerPlan, Plan } from './plan.js';
import { modified, propagate, type BasicRule, type Rule, type RuleTerm } from './rules.js';

function ruleOf(plan: Plan, op: TapOp): { lp: LayerPlan; rule: Rule } | null {
  const lp = plan.layers.get(op.layer);
  if (!lp) return null;
  const rule = op.part === 'activation' && lp.kind !== 'activation' ? lp.activationRule : lp.rule;
  if (!rule || rule.type === 'gradient') return null;
  return { lp, rule };
}

/**
 * A term's parameters with what `vjp` derives from its kernel, kept in the plan's cache (across
 * calls on the same tap) where the term's modifier has a key; else derived for this call.
 */
function termParams(plan: Plan, lp: LayerPlan, stage: number, op: LayerOp, term: RuleTerm): Params {
  const cache = plan.cache;
  const base = op.params;
  const mod = term.params;
  if (!cache || (mod && mod.key === undefined)) return modified(base, term);
  const tag = `${lp.name}#${stage}:${mod ? mod.key : 'plain'}`;
  const kernel = base.kernel && mod ? cache.get(`${tag}:kernel`, [base.kernel], () => mod(base.kernel as tf.Tensor, 'kernel')) : base.kernel;
  const bias = term.zeroBias || !base.bias ? null : mod ? cache.get(`${tag}:bias`, [base.bias], () => mod(base.bias as tf.Tensor, 'bias')) : base.bias;
  let vjpKernel: tf.Tensor | null = null;
  if (kernel && op.vjpKernel) {
    // Keyed by backend too: whether vjp needs a flipped kernel depends on it.
    vjpKernel = cacheVjpKernel(cache, `${tag}:vjp:${tf.getBackend()}`, kernel, op.vjpKernel);
  }
  return { kernel, bias, vjpKernel };
}

/** `derive(kernel)` kept in the cache; null where the op needs none on this backend. */
function cacheVjpKernel(cache: DerivedCache, key: string, kernel: tf.Tensor, derive: (k: tf.Tensor) => tf.Tensor | null): tf.Tensor | null {
  let none = false;
  const v = cache.get(key, [kernel], () => {
    const d = derive(kernel);
    if (d === null) {
      none = true;
      return kernel;
    }
    return d;
  });
  return none ? null : v;
}

/**
 * The plan as backward overrides of the model tap, for one call: the gradient that flows back is
 * the relevance. A layer with an LRP rule returns R_in = reducer(x, J'^T (R_out / z')) for the
 * relevance R_out arriving at its output (Zennit's gradient-times-modified-forward trick);
 * activations and folded BatchNorm layers pass it on unchanged; every other layer keeps its plain
 * gradient (max pooling, concatenation, reshapes, padding). Nothing global is registered and the
 * model is not changed. Constants derived from the weights are kept in `plan.cache`.
 */
export function lrpOverrides(plan: Plan): BackwardOverride[] {
  return [
    {
      match: (op) => ruleOf(plan, op) !== null,
      backward: ({ op, inputs, output, dy }) =>
        tf.tidy(() => {
          const { lp, rule } = ruleOf(plan, op) as { lp: LayerPlan; rule: Rule };
          if (rule.type !== 'basic') return tf.clone(dy);
          // Inputs of each linear step (a SeparableConv2D's pointwise step reads the depthwise output).
          const stageInputs: tf.Tensor[][] = [inputs];
          for (let i = 0; i < lp.stages.length - 1; i++) {
            const { op: s } = lp.stages[i] as LayerPlan['stages'][number];
            stageInputs.push([s.forward(stageInputs[i] as tf.Tensor[], s.params)]);
          }
          // The tap's output of this op is the layer's own output when one step computes it
          // with the layer's own parameters (no BatchNorm folded in).
          const ownOutput = lp.stages.length === 1 && !lp.folds ? output : undefined;
          let r = dy;
          let rs: tf.Tensor[] = [dy];
          for (let i = lp.stages.length - 1; i >= 0; i--) {
            const stage = lp.stages[i] as LayerPlan['stages'][number];
            const xs = stageInputs[i] as tf.Tensor[];
            // What is known about the inputs' sign holds for the layer's own inputs (the first step).
            const nonNegative = i === 0 ? lp.nonNegative : [];
            if (stage.rule.type === 'basic') {
              const basic: BasicRule = stage.rule;
              rs = propagate(basic, stage.op, xs, r, nonNegative, {
                termParams: (term) => termParams(plan, lp, i, stage.op, term),
                ...(ownOutput ? { output: ownOutput } : {}),
              });
            } else {
              rs = stage.op.vjp(xs, stage.op.params, r);
            }
            r = rs[0] as tf.Tensor;
          }
          return rs.length === 1 ? (rs[0] as tf.Tensor) : rs;
        }),
    },
  ];
}

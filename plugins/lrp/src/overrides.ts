import * as tf from '@tensorflow/tfjs-core';
import type { BackwardOverride, TapOp } from '@cnn-xai/core';
import type { LayerPlan, Plan } from './plan.js';
import { propagate, type Rule } from './rules.js';

function ruleOf(plan: Plan, op: TapOp): { lp: LayerPlan; rule: Rule } | null {
  const lp = plan.layers.get(op.layer);
  if (!lp) return null;
  const rule = op.part === 'activation' && lp.kind !== 'activation' ? lp.activationRule : lp.rule;
  if (!rule || rule.type === 'gradient') return null;
  return { lp, rule };
}

/**
 * The plan as backward overrides of the model tap, for one call: the gradient that flows back is
 * the relevance. A layer with an LRP rule returns R_in = reducer(x, J'^T (R_out / z')) for the
 * relevance R_out arriving at its output (Zennit's gradient-times-modified-forward trick);
 * activations and folded BatchNorm layers pass it on unchanged; every other layer keeps its plain
 * gradient (max pooling, concatenation, reshapes, padding). Nothing global is registered and the
 * model is not changed.
 */
export function lrpOverrides(plan: Plan): BackwardOverride[] {
  return [
    {
      match: (op) => ruleOf(plan, op) !== null,
      backward: ({ op, inputs, dy }) =>
        tf.tidy(() => {
          const { lp, rule } = ruleOf(plan, op) as { lp: LayerPlan; rule: Rule };
          if (rule.type !== 'basic') return tf.clone(dy);
          // Inputs of each linear step (a SeparableConv2D's pointwise step reads the depthwise output).
          const stageInputs: tf.Tensor[][] = [inputs];
          for (let i = 0; i < lp.stages.length - 1; i++) {
            const { op: s } = lp.stages[i] as LayerPlan['stages'][number];
            stageInputs.push([s.forward(stageInputs[i] as tf.Tensor[], s.params)]);
          }
          let r = dy;
          let rs: tf.Tensor[] = [dy];
          for (let i = lp.stages.length - 1; i >= 0; i--) {
            const stage = lp.stages[i] as LayerPlan['stages'][number];
            const xs = stageInputs[i] as tf.Tensor[];
            // What is known about the inputs' sign holds for the layer's own inputs (the first step).
            const nonNegative = i === 0 ? lp.nonNegative : [];
            rs = stage.rule.type === 'basic' ? propagate(stage.rule, stage.op, xs, r, nonNegative) : stage.op.vjp(xs, stage.op.params, r);
            r = rs[0] as tf.Tensor;
          }
          return rs.length === 1 ? (rs[0] as tf.Tensor) : rs;
        }),
    },
  ];
}

import * as tf from '@tensorflow/tfjs-core';
import { CnnXaiError, defineExplainer, mapBatches, opt, type ModelTap } from '@cnn-xai/core';
import {
  COMPOSITE_NAMES,
  COMPOSITES,
  defineComposite,
  parseRules,
  unknownCompositeError,
  type Composite,
  type CompositeName,
  type CompositeParams,
} from './composites.js';
import { lrpOverrides } from './overrides.js';
import { buildPlan, type Plan } from './plan.js';
import type { Bound } from './rules.js';

/** Where relevance starts at the output: the target logit (Captum) or 1 (Zennit's one-hot). */
export const STARTS = ['logit', 'one-hot'] as const;
export type Start = (typeof STARTS)[number];

/** A copy of a tensor through which no gradient flows (the start relevance's scale). */
const stopGradient = tf.customGrad((...args: Array<tf.Tensor | tf.GradSaveFunc>) => ({
  value: tf.clone(args[0] as tf.Tensor),
  gradFunc: (dy: tf.Tensor) => tf.zerosLike(dy),
})) as (t: tf.Tensor) => tf.Tensor;

function compositeOf(value: unknown, p: CompositeParams): Composite {
  if (typeof value === 'string') {
    const make = COMPOSITES[value as CompositeName];
    if (!make) throw unknownCompositeError(value);
    return make(p);
  }
  if (value !== null && typeof value === 'object' && 'layers' in value) return defineComposite(value as Composite);
  throw unknownCompositeError(value);
}

function channelBound(b: Bound, c: number): number {
  return typeof b === 'number' ? b : (b[c] as number);
}

/** A z-box rule assumes the input lies in [low, high]; refuse inputs outside, naming the fix. */
async function checkBoxes(plan: Plan, x: tf.Tensor4D): Promise<void> {
  if (plan.boxes.length === 0) return;
  const [lo, hi] = tf.tidy(() => [tf.min(x, [0, 1, 2]), tf.max(x, [0, 1, 2])]) as [tf.Tensor1D, tf.Tensor1D];
  const [mins, maxs] = [await lo.data(), await hi.data()];
  tf.dispose([lo, hi]);
  for (const { layer, rule } of plan.boxes) {
    const { low, high } = rule.bounds as { low: Bound; high: Bound };
    for (let c = 0; c < mins.length; c++) {
      const l = channelBound(low, c);
      const h = channelBound(high, c);
      const tol = 1e-5 * Math.max(1, Math.abs(h - l));
      if ((mins[c] as number) < l - tol || (maxs[c] as number) > h + tol) {
        throw new CnnXaiError(
          'BAD_OPTION_VALUE',
          `The z-box rule on layer "${layer}" assumes inputs in [${l}, ${h}], but channel ${c} of the input spans [${mins[c]}, ${maxs[c]}].`,
          'Set the options low and high to the range of the model\'s input (e.g. low=-1 high=1, or the normalised range), or use another composite.',
        );
      }
    }
  }
}

/**
 * Layer-wise relevance propagation with Zennit's rules and composites, on the model tap's local
 * backward overrides: the relevance of the target flows back layer by layer, each layer sharing
 * it among its inputs by its rule.
 */
export const lrp = defineExplainer({
  id: 'lrp',
  name: 'Layer-wise relevance propagation (LRP)',
  family: 'lrp',
  kind: 'relevance',
  description:
    'Redistributes the target score backwards, layer by layer, by per-layer rules (epsilon, z+, gamma, alpha-beta, z-box, flat), as Zennit composites do; BatchNorm is folded into the preceding layer for the explanation.',
  paper: {
    title: 'On Pixel-Wise Explanations for Non-Linear Classifier Decisions by Layer-Wise Relevance Propagation',
    authors: 'Bach, Binder, Montavon, Klauschen, Müller, Samek',
    year: 2015,
    url: 'https://doi.org/10.1371/journal.pone.0130140',
  },
  requires: { gradients: true, graph: true },
  options: {
    composite: opt.choiceOrValue({
      default: 'epsilon-plus',
      choices: COMPOSITE_NAMES,
      description:
        'Which rule each layer gets: epsilon (LRP-epsilon everywhere, as Captum), epsilon-plus (z+ on convs, epsilon on dense; Zennit EpsilonPlus), epsilon-plus-flat (flat on the input layer), epsilon-gamma-box (z-box on the input conv, gamma on other convs), epsilon-alpha2-beta1 (alpha-beta 2/1 on convs); from the API also a composite object from defineComposite().',
    }),
    rules: opt.string({
      default: '',
      description:
        'Per-layer rules that override the composite, e.g. "conv1=z-box,Dense=epsilon(1e-3),conv*=gamma(0.5)": layer names (wildcards * ?), class names or kinds (@conv, @dense, @first, ...); the first matching entry wins.',
    }),
    epsilon: opt.number({ default: 1e-6, min: 0, description: 'Epsilon of the epsilon rule (added with the sign of the denominator); 0 gives LRP-0.' }),
    gamma: opt.number({ default: 0.25, min: 0, description: 'Gamma of the gamma rule: how much positive weights are favoured.' }),
    low: opt.number({ default: 0, description: 'Lowest input value, for the z-box rule (the fixtures\' inputs lie in [0, 1]).' }),
    high: opt.number({ default: 1, description: 'Highest input value, for the z-box rule.' }),
    start: opt.choice({
      default: 'logit',
      choices: STARTS,
      description:
        'Relevance at the output: logit (the target logit on the target class, so LRP-0 sums to the logit, as Captum) or one-hot (1 on the target class, as Zennit).',
    }),
    canonize: opt.boolean({
      default: true,
      description: 'Fold each BatchNormalization into the conv or dense layer before it for the explanation (the model is not changed).',
    }),
    batchSize: opt.integer({ default: 32, min: 1, max: 4096, description: 'Images per forward/backward pass.' }),
  },
  async explain(x, ctx, o) {
    if (!(o.low < o.high)) {
      throw new CnnXaiError('BAD_OPTION_VALUE', `The z-box bounds are low=${o.low}, high=${o.high}.`, 'low must be below high.');
    }
    const params: CompositeParams = { epsilon: o.epsilon, gamma: o.gamma, low: o.low, high: o.high };
    const composite = compositeOf(o.composite, params);
    const entries = parseRules(o.rules, params);
    const tap: ModelTap = ctx.tap;
    const plan = buildPlan(tap, { composite, entries, canonize: o.canonize });
    const scoreParts: tf.Tensor[] = [];
    try {
      await checkBoxes(plan, x);
      const overrides = lrpOverrides(plan);
      const n = x.shape[0];
      const values = await mapBatches(
        n,
        o.batchSize,
        (s, e) =>
          tf.tidy(() => {
            const xb = tf.slice(x, [s, 0, 0, 0], [e - s, -1, -1, -1]);
            const rows = Array.from({ length: e - s }, (_, i) => s + i);
            // d/d(output) of score * stop(score) is score times the target's one-hot: the logit start.
            const score = (out: tf.Tensor): tf.Tensor1D => {
              const sc = ctx.target.score(out, rows);
              return (o.start === 'logit' ? tf.mul(sc, stopGradient(sc)) : sc) as tf.Tensor1D;
            };
            const g = tap.gradient(xb, score, { overrides });
            scoreParts.push(tf.keep(ctx.target.score(g.output, rows)));
            return g.gradient;
          }),
        ctx,
      );
      const sums = tf.tidy(() => tf.sum(tf.reshape(values, [n, -1]), 1));
      const all = tf.tidy(() => tf.concat(scoreParts, 0));
      const [inputSums, scores] = await Promise.all([sums.data(), all.data()]);
      tf.dispose([sums, all]);
      const output = Array.from(scores, (v) => (o.start === 'logit' ? v : 1));
      const input = Array.from(inputSums);
      const ratio = input.map((v, i) => (output[i] === 0 ? 0 : v / (output[i] as number)));
      const folded: Record<string, string> = {};
      for (const lp of plan.layers.values()) if (lp.foldedInto) folded[lp.name] = lp.foldedInto;
      return {
        values,
        signed: true,
        extras: {
          inputRelevance: input,
          outputRelevance: output,
          relevanceRatio: ratio,
          composite: plan.composite,
          rules: plan.report,
          folded,
          start: o.start,
        },
      };
    } finally {
      tf.dispose(scoreParts);
      plan.owned.forEach((t) => t.dispose());
    }
  },
});

import * as tf from '@tensorflow/tfjs-core';
import { CnnXaiError } from '@cnn-xai/core';
import type { LayerOp, Params } from './ops.js';

/**
 * LRP rules as data, after Zennit's `BasicHook`: a rule is a list of terms, each a modified input
 * and modified parameters; the layer runs forward once per term; a gradient mapper turns the
 * relevance arriving at the output into one signal per term (relevance over the stabilized
 * modified output); the signals travel back through each term's modified layer (its
 * vector-Jacobian product); a reducer combines inputs and gradients into the relevance of the
 * layer's input:
 *
 *   z_t = layer_t(x_t),  s_t = mapper(R_out, z)_t,  c_t = J_t^T s_t,  R_in = reducer(x, c)
 *
 * The backward algorithm is written once (`propagate`); each rule only supplies its modifiers.
 */

/**
 * How a rule changes one parameter tensor of the layer. A modifier with a `key` (the built-in
 * rules' modifiers) names what it computes: its results for a layer's weights are computed once
 * and kept with the model tap for later calls (see cache.ts); one without a key is recomputed on
 * every call.
 */
export type ParamModifier = ((param: tf.Tensor, which: 'kernel' | 'bias') => tf.Tensor) & { key?: string };

/** A parameter modifier whose results may be cached under `key` (equal keys: equal results). */
export function keyedModifier(key: string, fn: (param: tf.Tensor, which: 'kernel' | 'bias') => tf.Tensor): ParamModifier {
  return Object.assign(fn, { key });
}

/** What `propagate` tells a rule's mapper about the layer. */
export interface MapperContext {
  /** The layer has a kernel (conv, dense, per-channel scale) that the rule's modifiers apply to. */
  hasKernel: boolean;
  /** Per term: skipped (its output is 0, it gets no gradient). */
  skipped: readonly boolean[];
}

export interface RuleTerm {
  /** The modified input (e.g. its positive part). */
  input: (x: tf.Tensor) => tf.Tensor;
  /**
   * `negative` when `input` keeps only the negative part: on an input known to be non-negative
   * (after a ReLU) such a term (without bias) is zero, and `propagate` skips it.
   */
  part?: 'negative';
  /** The modified parameters (default: unchanged). */
  params?: ParamModifier;
  /** Leave the bias out of this term (Zennit's `zero_params=['bias']`). */
  zeroBias?: boolean;
}

export interface BasicRule {
  type: 'basic';
  /** Rule id: `epsilon`, `gamma`, `alpha-beta`, `z-plus`, `z-box`, `flat`, `w-square`, `norm`. */
  name: string;
  /** The id with its parameters, e.g. `gamma(0.25)`; what the result reports per layer. */
  label: string;
  terms: readonly RuleTerm[];
  /**
   * The signal each term sends back, from the relevance at the output and the terms' outputs
   * (null: the term only serves the mapper, no gradient needed).
   */
  mapper(rOut: tf.Tensor, outputs: readonly tf.Tensor[], ctx?: MapperContext): ReadonlyArray<tf.Tensor | null>;
  /** Relevance of one input, from the terms' modified inputs and their gradients (null where unused). */
  reducer(inputs: readonly tf.Tensor[], gradients: ReadonlyArray<tf.Tensor | null>): tf.Tensor;
  /** The input bounds of a z-box rule (the input must lie within them). */
  bounds?: { low: Bound; high: Bound };
}

/** Zennit's Pass: the relevance goes through unchanged (elementwise layers: activations). */
export interface PassRule {
  type: 'pass';
  name: 'pass';
  label: 'pass';
}

/** No rule: the plain gradient (pooling by maximum, concatenation, reshapes, padding). */
export interface GradientRule {
  type: 'gradient';
  name: 'gradient';
  label: 'gradient';
}

export type Rule = BasicRule | PassRule | GradientRule;

/** The stabilizer Zennit's rules use by default (`stabilizer=1e-6`). */
export const STABILIZER = 1e-6;

/**
 * Zennit's stabilizer: adds epsilon with the sign of each entry, zero counting as positive, so
 * that a division never changes sign and never divides by zero (for epsilon > 0).
 */
export function stabilize(z: tf.Tensor, epsilon: number): tf.Tensor {
  if (epsilon === 0) return z;
  // z + eps and z - eps, picked by the sign: the same values as z + sign * eps, in fewer ops.
  return tf.where(tf.greaterEqual(z, 0), tf.add(z, epsilon), tf.sub(z, epsilon));
}

/**
 * Below this a stabilizer may flush to zero in float32 kernels (denormals), so a stabilized
 * denominator could still be 0: `safeDiv` guards it.
 */
const SAFE_STABILIZER = 1e-30;

/** r / stabilize(den, epsilon), with 0 where the denominator is 0 (LRP-0). */
export function divStabilized(r: tf.Tensor, den: tf.Tensor, epsilon: number): tf.Tensor {
  // A stabilized denominator is never 0 (z >= 0 gives z + eps > 0, z < 0 gives z - eps < 0).
  if (epsilon >= SAFE_STABILIZER) return tf.div(r, stabilize(den, epsilon));
  return safeDiv(r, stabilize(den, epsilon));
}

/** r / den, with 0 where den is 0 (only reachable with epsilon = 0, LRP-0). */
export function safeDiv(r: tf.Tensor, den: tf.Tensor): tf.Tensor {
  const zero = tf.equal(den, 0);
  return tf.where(zero, tf.zerosLike(r), tf.div(r, tf.where(zero, tf.onesLike(den), den)));
}

const identity = (x: tf.Tensor): tf.Tensor => x;
const positive = (x: tf.Tensor): tf.Tensor => tf.relu(x);
const negative = (x: tf.Tensor): tf.Tensor => tf.minimum(x, 0);
const clampMin0 = keyedModifier('clamp-min-0', (p) => positive(p));
const clampMax0 = keyedModifier('clamp-max-0', (p) => negative(p));
const sum = (ts: readonly tf.Tensor[]): tf.Tensor => ts.reduce((a, b) => tf.add(a, b));
/** The sum of the outputs of the terms that were not skipped (skipped ones are 0). */
const sumLive = (ts: readonly tf.Tensor[], ctx?: MapperContext): tf.Tensor => {
  const live = ctx ? ts.filter((_, i) => !ctx.skipped[i]) : ts;
  return sum(live.length > 0 ? live : ts);
};
const fmt = (v: number): string => String(v);

function checkNumber(v: number, what: string, min = -Infinity): void {
  if (!Number.isFinite(v) || v < min) {
    throw new CnnXaiError('BAD_OPTION_VALUE', `LRP rule parameter ${what} = ${v}.`, `Use a finite number${min > -Infinity ? ` >= ${min}` : ''}.`);
  }
}

/** The reducer of most rules: sum over terms of input times gradient. */
function inputTimesGradient(inputs: readonly tf.Tensor[], grads: ReadonlyArray<tf.Tensor | null>): tf.Tensor {
  const parts = grads.flatMap((g, i) => (g ? [tf.mul(inputs[i] as tf.Tensor, g)] : []));
  return sum(parts);
}

/**
 * LRP-epsilon (Bach et al. 2015): R_j = sum_k x_j w_jk / (z_k + eps sign(z_k)) R_k, the bias in z.
 * `epsilon = 0` is LRP-0 (with 0 where z is 0).
 */
export function epsilon(opts: { epsilon?: number } = {}): BasicRule {
  const eps = opts.epsilon ?? 1e-6;
  checkNumber(eps, 'epsilon', 0);
  return {
    type: 'basic',
    name: 'epsilon',
    label: `epsilon(${fmt(eps)})`,
    terms: [{ input: identity }],
    mapper: (r, [z]) => [divStabilized(r, z as tf.Tensor, eps)],
    reducer: inputTimesGradient,
  };
}

/** Zennit's Norm: the epsilon rule with only a stabilizer, for layers without parameters (average pooling, sums). */
export function norm(opts: { stabilizer?: number } = {}): BasicRule {
  const stab = opts.stabilizer ?? STABILIZER;
  checkNumber(stab, 'stabilizer', 0);
  return { ...epsilon({ epsilon: stab }), name: 'norm', label: stab === STABILIZER ? 'norm' : `norm(${fmt(stab)})` };
}

/**
 * Generalized LRP-gamma (Montavon et al. 2019; Andéol et al. 2021, as in Zennit): positive
 * contributions are favoured by adding gamma times the weights' positive part; for outputs z < 0
 * the negative contributions are. Equal to LRP-0 at gamma = 0 (up to the stabilizer).
 */
export function gamma(opts: { gamma?: number; stabilizer?: number } = {}): BasicRule {
  const g = opts.gamma ?? 0.25;
  const stab = opts.stabilizer ?? STABILIZER;
  checkNumber(g, 'gamma', 0);
  const plus = keyedModifier(`gamma-plus(${g})`, (p) => tf.add(p, tf.mul(positive(p), g)));
  const minus = keyedModifier(`gamma-minus(${g})`, (p) => tf.add(p, tf.mul(negative(p), g)));
  return {
    type: 'basic',
    name: 'gamma',
    label: `gamma(${fmt(g)})`,
    terms: [
      { input: positive, params: plus },
      { input: negative, part: 'negative', params: minus, zeroBias: true },
      { input: positive, params: minus },
      { input: negative, part: 'negative', params: plus, zeroBias: true },
      { input: identity },
    ],
    mapper: (r, outputs, ctx) => {
      const [z1, z2, z3, z4, z] = outputs as [tf.Tensor, tf.Tensor, tf.Tensor, tf.Tensor, tf.Tensor];
      const pair = (a: tf.Tensor, b: tf.Tensor, i: number): tf.Tensor => (ctx?.skipped[i] ? a : tf.add(a, b));
      const pos = tf.mul(tf.cast(tf.greater(z, 0), 'float32'), divStabilized(r, pair(z1, z2, 1), stab));
      const neg = tf.mul(tf.cast(tf.less(z, 0), 'float32'), divStabilized(r, pair(z3, z4, 3), stab));
      return [pos, pos, neg, neg, null];
    },
    reducer: inputTimesGradient,
  };
}

/**
 * LRP-alpha-beta (Bach et al. 2015): alpha times the positive contributions' share minus beta
 * times the negative ones', alpha - beta = 1. The bias counts with its sign.
 */
export function alphaBeta(opts: { alpha?: number; beta?: number; stabilizer?: number } = {}): BasicRule {
  const alpha = opts.alpha ?? 2;
  const beta = opts.beta ?? 1;
  const stab = opts.stabilizer ?? STABILIZER;
  checkNumber(alpha, 'alpha', 0);
  checkNumber(beta, 'beta', 0);
  if (Math.abs(alpha - beta - 1) > 1e-9) {
    throw new CnnXaiError('BAD_OPTION_VALUE', `LRP alpha-beta rule with alpha=${alpha}, beta=${beta}.`, 'alpha - beta must be 1 (e.g. alpha-beta(2,1) or alpha-beta(1,0)).');
  }
  return {
    type: 'basic',
    name: 'alpha-beta',
    label: `alpha-beta(${fmt(alpha)}, ${fmt(beta)})`,
    terms: [
      { input: positive, params: clampMin0 },
      { input: negative, part: 'negative', params: clampMax0, zeroBias: true },
      { input: positive, params: clampMax0 },
      { input: negative, part: 'negative', params: clampMin0, zeroBias: true },
    ],
    mapper: (r, outputs, ctx) => {
      const [z1, z2, z3, z4] = outputs as [tf.Tensor, tf.Tensor, tf.Tensor, tf.Tensor];
      const pair = (a: tf.Tensor, b: tf.Tensor, i: number): tf.Tensor => (ctx?.skipped[i] ? a : tf.add(a, b));
      const pos = divStabilized(r, pair(z1, z2, 1), stab);
      const neg = divStabilized(r, pair(z3, z4, 3), stab);
      return [pos, pos, neg, neg];
    },
    reducer: (xs, gs) => {
      const term = (i: number): tf.Tensor => (gs[i] ? tf.mul(xs[i] as tf.Tensor, gs[i] as tf.Tensor) : tf.scalar(0));
      return tf.sub(tf.mul(tf.add(term(0), term(1)), alpha), tf.mul(tf.add(term(2), term(3)), beta));
    },
  };
}

/** LRP-z+ (Montavon et al. 2017): only positive contributions (with negative inputs allowed: alpha-beta(1, 0)). */
export function zPlus(opts: { stabilizer?: number } = {}): BasicRule {
  const stab = opts.stabilizer ?? STABILIZER;
  return {
    type: 'basic',
    name: 'z-plus',
    label: 'z-plus',
    terms: [
      { input: positive, params: clampMin0 },
      { input: negative, part: 'negative', params: clampMax0, zeroBias: true },
    ],
    mapper: (r, outputs, ctx) => {
      const z = sumLive(outputs, ctx);
      // With a kernel, both terms' outputs are >= 0 (x+ W+ + b+ and x- W-), so the stabilizer
      // is + stab everywhere: skip its sign test.
      const s = ctx?.hasKernel && stab >= SAFE_STABILIZER ? tf.div(r, tf.add(z, stab)) : divStabilized(r, z, stab);
      return [s, s];
    },
    reducer: inputTimesGradient,
  };
}

/** A bound of the z-box rule: one value, or one per input channel. */
export type Bound = number | readonly number[];

function boundTensor(b: Bound, like: tf.Tensor): tf.Tensor {
  if (typeof b === 'number') return tf.fill(like.shape, b);
  const c = like.shape[like.rank - 1] as number;
  if (b.length !== c) {
    throw new CnnXaiError('BAD_OPTION_VALUE', `A z-box bound has ${b.length} values for ${c} channels.`, 'Give one value, or one per input channel.');
  }
  return tf.mul(tf.onesLike(like), tf.tensor1d(b as number[]));
}

/**
 * LRP-z^B (Montavon et al. 2017) for inputs bounded in [low, high] (the pixel layer):
 * R_i = sum_j (x_i w_ij - l_i w_ij^+ - h_i w_ij^-) / z_j R_j. The biases cancel, as in Zennit.
 */
export function zBox(opts: { low?: Bound; high?: Bound; stabilizer?: number } = {}): BasicRule {
  const low = opts.low ?? 0;
  const high = opts.high ?? 1;
  const stab = opts.stabilizer ?? STABILIZER;
  for (const v of [low, high].flat()) checkNumber(v as number, 'z-box bound');
  const show = (b: Bound): string => (typeof b === 'number' ? fmt(b) : `[${b.join(', ')}]`);
  return {
    type: 'basic',
    name: 'z-box',
    label: `z-box(${show(low)}, ${show(high)})`,
    bounds: { low, high },
    terms: [
      { input: identity },
      { input: (x) => boundTensor(low, x), params: clampMin0 },
      { input: (x) => boundTensor(high, x), params: clampMax0 },
    ],
    mapper: (r, [z, zl, zh]) => {
      const s = divStabilized(r, tf.sub(tf.sub(z as tf.Tensor, zl as tf.Tensor), zh as tf.Tensor), stab);
      return [s, s, s];
    },
    reducer: (xs, gs) => {
      const t = (i: number): tf.Tensor => tf.mul(xs[i] as tf.Tensor, gs[i] as tf.Tensor);
      return tf.sub(tf.sub(t(0), t(1)), t(2));
    },
  };
}

const ones = (x: tf.Tensor): tf.Tensor => tf.onesLike(x);

/**
 * LRP-flat (Lapuschkin et al. 2019): relevance spread uniformly over each output's receptive
 * field (all weights one, no bias, inputs ignored).
 */
export function flat(opts: { stabilizer?: number } = {}): BasicRule {
  const stab = opts.stabilizer ?? STABILIZER;
  return {
    type: 'basic',
    name: 'flat',
    label: 'flat',
    terms: [{ input: ones, params: keyedModifier('ones', (p) => tf.onesLike(p)), zeroBias: true }],
    mapper: (r, [z]) => [divStabilized(r, z as tf.Tensor, stab)],
    reducer: (_xs, [g]) => g as tf.Tensor,
  };
}

/** LRP-w^2 (Montavon et al. 2017): relevance in proportion to the squared weights (inputs ignored). */
export function wSquare(opts: { stabilizer?: number } = {}): BasicRule {
  const stab = opts.stabilizer ?? STABILIZER;
  return {
    type: 'basic',
    name: 'w-square',
    label: 'w-square',
    terms: [{ input: ones, params: keyedModifier('square', (p) => tf.square(p)) }],
    mapper: (r, [z]) => [divStabilized(r, z as tf.Tensor, stab)],
    reducer: (_xs, [g]) => g as tf.Tensor,
  };
}

export const pass = (): PassRule => ({ type: 'pass', name: 'pass', label: 'pass' });
export const gradient = (): GradientRule => ({ type: 'gradient', name: 'gradient', label: 'gradient' });

/** A term's parameters: the layer's, modified by the term (a new tensor where a modifier applies). */
export function modified(p: Params, term: RuleTerm): Params {
  const mod = term.params;
  const kernel = p.kernel && mod ? mod(p.kernel, 'kernel') : p.kernel;
  const bias = term.zeroBias || !p.bias ? null : mod ? mod(p.bias, 'bias') : p.bias;
  return { kernel, bias };
}

/** Optional inputs of `propagate` that save work; the result is the same without them. */
export interface PropagateOptions {
  /** Each term's parameters (default: `modified(op.params, term)`), e.g. kept from an earlier call. */
  termParams?: (term: RuleTerm, index: number) => Params;
  /**
   * The layer's output for these inputs and its own parameters (the forward pass computed it): a
   * term on the unmodified input with unmodified parameters takes it instead of recomputing it.
   */
  output?: tf.Tensor;
}

/** A term that recomputes the layer's own output: unmodified input and parameters, bias included. */
const isPlainTerm = (t: RuleTerm): boolean => t.input === identity && !t.params && !t.zeroBias;

/**
 * Applies a basic rule to one layer: the relevance of each of the layer's inputs, given the
 * inputs of the forward pass and the relevance at its output (Zennit's BasicHook.backward).
 * Call it inside a tf.tidy.
 */
export function propagate(
  rule: BasicRule,
  op: LayerOp,
  inputs: readonly tf.Tensor[],
  rOut: tf.Tensor,
  nonNegative: readonly boolean[] = [],
  opts: PropagateOptions = {},
): tf.Tensor[] {
  // A term on the negative part of inputs that are all non-negative (after a ReLU), without a
  // bias, has output 0 and relevance 0: skip its two passes.
  const skipped = rule.terms.map((t) => t.part === 'negative' && t.zeroBias === true && inputs.every((_, k) => nonNegative[k] === true));
  // Modified inputs, computed once per input function (terms share them); the positive part of
  // an input known to be non-negative is the input itself.
  const memo = new Map<RuleTerm['input'], tf.Tensor[]>();
  const termInputs = rule.terms.map((t, i) => {
    if (skipped[i]) return inputs as tf.Tensor[];
    const known = memo.get(t.input);
    if (known) return known;
    const xs = inputs.map((x, k) => (t.input === identity || (t.input === positive && nonNegative[k] === true) ? x : t.input(x)));
    memo.set(t.input, xs);
    return xs;
  });
  const termParams = rule.terms.map((t, i) => (skipped[i] ? op.params : opts.termParams ? opts.termParams(t, i) : modified(op.params, t)));
  const outputs = rule.terms.map((t, i) => {
    if (skipped[i]) return tf.scalar(0);
    if (opts.output && isPlainTerm(t)) return opts.output;
    return op.forward(termInputs[i] as tf.Tensor[], termParams[i] as Params);
  });
  const signals = rule.mapper(rOut, outputs, { hasKernel: op.params.kernel !== null, skipped });
  const grads = signals.map((s, i) => (s && !skipped[i] ? op.vjp(termInputs[i] as tf.Tensor[], termParams[i] as Params, s) : null));
  return inputs.map((_, k) =>
    rule.reducer(
      termInputs.map((xs) => xs[k] as tf.Tensor),
      grads.map((g) => (g ? (g[k] as tf.Tensor) : null)),
    ),
  );
}

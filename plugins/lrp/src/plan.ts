import * as tf from '@tensorflow/tfjs-core';
import { CnnXaiError, listNames, spreadKernel, type LayerInfo, type ModelTap } from '@cnn-xai/core';
import {
  accepts,
  LAYER_KINDS,
  matches,
  type Composite,
  type LayerKind,
  type LayerRef,
  type RuleEntry,
} from './composites.js';
import {
  addOp,
  affineOp,
  avgPoolOp,
  conv2dOp,
  denseOp,
  depthwiseOp,
  globalAvgPoolOp,
  globalMaxPoolOp,
  maxPoolOp,
  pairOf,
  type ConvGeometry,
  type LayerOp,
  type Params,
} from './ops.js';
import { lrpCache, type DerivedCache } from './cache.js';
import { gradient, type BasicRule, type Rule } from './rules.js';

type Layer = NonNullable<ReturnType<ModelTap['source']>>;
type Config = Record<string, unknown>;

/** One linear step of a layer with the rule that propagates relevance through it. */
export interface Stage {
  op: LayerOp;
  rule: BasicRule | ReturnType<typeof gradient>;
}

/** How relevance passes one layer of the tap. */
export interface LayerPlan {
  name: string;
  className: string;
  kind: LayerKind;
  /** The rule of the layer's own computation (for activation layers: of the activation). */
  rule: Rule;
  /** The rule of the activation that ends the layer (Conv2D/Dense with `activation`), if any. */
  activationRule?: Rule;
  /**
   * The layer's linear steps, applied from the output back (a SeparableConv2D has two: depthwise
   * then pointwise). Empty when the rule is pass or gradient.
   */
  stages: Stage[];
  /** A BatchNormalization folded into the layer that feeds it: the name of that layer. */
  foldedInto?: string;
  /** The BatchNormalization folded into this layer. */
  folds?: string;
  /** Per input of the layer: true when it cannot be negative (it comes from a ReLU, through pooling etc.). */
  nonNegative: boolean[];
}

export interface Plan {
  composite: string;
  layers: Map<string, LayerPlan>;
  /** Per layer, the rule it gets, as the result reports it. */
  report: Record<string, string>;
  /** z-box rules on layers that read the input: the input must lie within their bounds. */
  boxes: Array<{ layer: string; rule: BasicRule }>;
  /** Tensors derived from the weights (folded BatchNorm, spread dilated kernels). */
  owned: tf.Tensor[];
  /**
   * Constants the rules derive from the weights (modified and flipped kernels), kept with the tap
   * across calls and released with it (cache.ts); absent: derived on every call.
   */
  cache?: DerivedCache;
}

/** Activation functions relevance passes through unchanged (Zennit's Pass on every elementwise activation). */
const ELEMENTWISE = new Set([
  'linear',
  'relu',
  'relu6',
  'elu',
  'selu',
  'tanh',
  'sigmoid',
  'hardSigmoid',
  'hard_sigmoid',
  'softplus',
  'softsign',
  'swish',
  'mish',
  'gelu',
  'gelu_new',
]);

const HANDLED = Object.keys(LAYER_KINDS);

function isContainer(tap: ModelTap, info: LayerInfo): boolean {
  return info.index > 0 && tap.layers.some((l) => l.name.startsWith(`${info.name}/`));
}

function unsupported(info: LayerInfo, why: string, hint: string): CnnXaiError {
  return new CnnXaiError('UNSUPPORTED_LAYER', `LRP cannot propagate relevance through layer "${info.name}" (${info.className}): ${why}.`, hint);
}

/**
 * Checks every layer of the tap before anything runs: each must be a class LRP handles and use
 * an activation relevance can pass. Returns the kinds of the leaf layers.
 */
export function checkLayers(tap: ModelTap): Map<string, LayerKind> {
  const kinds = new Map<string, LayerKind>();
  const handled = `LRP handles ${listNames(HANDLED)}.`;
  for (const info of tap.layers) {
    if (isContainer(tap, info)) continue;
    const kind = info.index === 0 ? 'structure' : LAYER_KINDS[info.className];
    if (!kind) throw unsupported(info, 'its class has no LRP rule', `${handled} Replace the layer or explain with a gradient method.`);
    const last = tap.outbound(info.name).length === 0;
    const stripped = tap.softmaxStripped && last;
    const act = info.activation;
    if (info.className === 'ReLU') {
      // A ReLU layer (capped, leaky or thresholded ones too) is elementwise: it passes.
    } else if (info.className === 'Softmax' && !stripped) {
      throw unsupported(
        info,
        'a softmax mixes the classes (not elementwise), and the tap keeps this one (it leaves out only a final softmax over the last axis)',
        'Explain the logits: end the model with the Dense layer, or with Activation("softmax"), which the tap leaves out.',
      );
    } else if (act === 'softmax' && !stripped) {
      throw unsupported(
        info,
        'it applies a softmax, which mixes the classes (not elementwise)',
        'Explain logits: the tap leaves out a softmax that ends the model (TapOptions.output "logits", the default); a softmax inside the network has no LRP rule.',
      );
    } else if (act !== 'softmax' && !ELEMENTWISE.has(act)) {
      throw unsupported(info, `its activation "${act}" has no LRP rule`, `Activations that pass relevance through: ${[...ELEMENTWISE].join(', ')}.`);
    }
    kinds.set(info.name, kind);
  }
  return kinds;
}

/** Activations whose output is never negative. */
const NON_NEGATIVE = new Set(['relu', 'relu6', 'sigmoid', 'hardSigmoid', 'hard_sigmoid', 'softplus']);

/**
 * Layers whose output cannot be negative: a ReLU-type activation, or pooling, padding, reshapes,
 * concatenations and sums of such outputs. The model input counts as possibly negative.
 */
function nonNegativeLayers(tap: ModelTap, kinds: Map<string, LayerKind>): (name: string) => boolean {
  const memo = new Map<string, boolean>();
  const check = (name: string): boolean => {
    const known = memo.get(name);
    if (known !== undefined) return known;
    memo.set(name, false);
    const info = tap.layer(name);
    const kind = kinds.get(name);
    const cfg = info.className === 'ReLU' ? (tap.source(name)?.getConfig() as Config | undefined) : undefined;
    let r: boolean;
    if (info.index === 0) r = false;
    else if (info.className === 'ReLU') r = !cfg?.['negativeSlope'] && !(Number(cfg?.['threshold'] ?? 0) < 0);
    else if (NON_NEGATIVE.has(info.activation)) r = true;
    else if (info.activation !== 'linear') r = false;
    else if (kind === 'maxpool' || kind === 'avgpool' || kind === 'add' || kind === 'structure' || (kind === 'activation' && info.className === 'Activation')) {
      r = info.inbound.length > 0 && info.inbound.every(check);
    } else r = false;
    memo.set(name, r);
    return r;
  };
  return check;
}

/** The layers that read the model input, through layers that only move values. */
function firstLayers(tap: ModelTap, kinds: Map<string, LayerKind>): Set<string> {
  const memo = new Map<string, boolean>();
  const readsInput = (name: string): boolean => {
    const known = memo.get(name);
    if (known !== undefined) return known;
    const info = tap.layer(name);
    const r = info.index === 0 || (kinds.get(name) === 'structure' && info.inbound.some(readsInput));
    memo.set(name, r);
    return r;
  };
  const out = new Set<string>();
  for (const info of tap.layers) {
    if (info.index > 0 && kinds.has(info.name) && info.inbound.some(readsInput)) out.add(info.name);
  }
  return out;
}

function config(layer: Layer): Config {
  return layer.getConfig() as Config;
}

function weights(layer: Layer): tf.Tensor[] {
  return layer.getWeights(false) as tf.Tensor[];
}

function convGeometry(info: LayerInfo, cfg: Config): ConvGeometry & { dilation: [number, number] } {
  if (cfg['dataFormat'] === 'channelsFirst' || cfg['dataFormat'] === 'channels_first') {
    throw unsupported(info, 'it uses channels-first data', 'Re-export the model with data_format="channels_last".');
  }
  const padding = cfg['padding'];
  if (padding !== 'same' && padding !== 'valid') throw unsupported(info, `it has padding "${String(padding)}"`, 'Use "same" or "valid".');
  return {
    strides: pairOf(cfg['strides'] ?? 1, 'strides', info.name),
    padding,
    dilation: pairOf(cfg['dilationRate'] ?? 1, 'dilationRate', info.name),
  };
}

/** BatchNorm in inference form: y = x * scale + shift. The caller owns both tensors. */
function batchNormAffine(layer: Layer, info: LayerInfo): { scale: tf.Tensor1D; shift: tf.Tensor1D } {
  const cfg = config(layer);
  const axis = cfg['axis'];
  if (axis !== -1 && axis !== 3 && !(Array.isArray(axis) && (axis[0] === -1 || axis[0] === 3))) {
    throw unsupported(info, `it normalises axis ${String(axis)}`, 'Only the channel axis (-1) is supported.');
  }
  const l = layer as unknown as {
    gamma?: { read(): tf.Tensor };
    beta?: { read(): tf.Tensor };
    movingMean: { read(): tf.Tensor };
    movingVariance: { read(): tf.Tensor };
  };
  const eps = Number(cfg['epsilon'] ?? 1e-3);
  return tf.tidy(() => {
    const mean = l.movingMean.read();
    const g = l.gamma ? l.gamma.read() : tf.onesLike(mean);
    const b = l.beta ? l.beta.read() : tf.zerosLike(mean);
    const scale = tf.div(g, tf.sqrt(tf.add(l.movingVariance.read(), eps))) as tf.Tensor1D;
    return { scale, shift: tf.sub(b, tf.mul(mean, scale)) as tf.Tensor1D };
  });
}

/** A foldable predecessor: a conv or dense layer with a linear activation read only by this BatchNorm. */
function foldTarget(tap: ModelTap, info: LayerInfo): string | null {
  if (info.inbound.length !== 1) return null;
  const pred = tap.layer(info.inbound[0] as string);
  if (!['Conv2D', 'DepthwiseConv2D', 'SeparableConv2D', 'Dense'].includes(pred.className)) return null;
  if (pred.activation !== 'linear') return null;
  if (tap.outbound(pred.name).length !== 1) return null;
  return pred.name;
}

interface Folding {
  scale: tf.Tensor1D;
  shift: tf.Tensor1D;
}

/** Folds y = (x W + b) * scale + shift into x W' + b' along the output channels of `kernel`. */
function foldInto(kernel: tf.Tensor, bias: tf.Tensor | null, f: Folding, depthwise: boolean): Params {
  return tf.tidy(() => {
    let k: tf.Tensor;
    if (depthwise) {
      const [, , c, m] = kernel.shape as [number, number, number, number];
      k = tf.mul(kernel, tf.reshape(f.scale, [c, m]));
    } else {
      k = tf.mul(kernel, f.scale);
    }
    const b = bias ? tf.add(tf.mul(bias, f.scale), f.shift) : tf.clone(f.shift);
    return { kernel: k, bias: b };
  });
}

/** The linear steps of a layer with parameters (BatchNorm folded in when `fold` is given). */
function stagesOf(info: LayerInfo, layer: Layer, fold: Folding | null, own: (t: tf.Tensor | null) => void): LayerOp[] {
  const cfg = config(layer);
  const ws = weights(layer);
  const keepParams = (p: Params): Params => {
    own(p.kernel);
    own(p.bias);
    return p;
  };
  const paramsFor = (kernel: tf.Tensor, bias: tf.Tensor | null, depthwise = false): Params =>
    fold ? keepParams(foldInto(kernel, bias, fold, depthwise)) : { kernel, bias };
  const spread = (k: tf.Tensor4D, d: [number, number]): tf.Tensor4D => {
    const s = spreadKernel(k, d);
    if (s !== k) own(s);
    return s;
  };
  switch (info.className) {
    case 'Conv2D': {
      const g = convGeometry(info, cfg);
      const [kernel, bias] = ws as [tf.Tensor4D, tf.Tensor | undefined];
      return [conv2dOp(paramsFor(spread(kernel, g.dilation), bias ?? null), g)];
    }
    case 'DepthwiseConv2D': {
      const g = convGeometry(info, cfg);
      const [kernel, bias] = ws as [tf.Tensor4D, tf.Tensor | undefined];
      // tfjs-layers 4.22 ignores a DepthwiseConv2D's dilationRate (it runs undilated), and so does the tap.
      return [depthwiseOp(paramsFor(kernel, bias ?? null, true), { strides: g.strides, padding: g.padding })];
    }
    case 'SeparableConv2D': {
      const g = convGeometry(info, cfg);
      const [depthwise, pointwise, bias] = ws as [tf.Tensor4D, tf.Tensor4D, tf.Tensor | undefined];
      return [
        depthwiseOp({ kernel: spread(depthwise, g.dilation), bias: null }, g),
        conv2dOp(paramsFor(pointwise, bias ?? null), { strides: [1, 1], padding: 'valid' }),
      ];
    }
    case 'Dense': {
      const [kernel, bias] = ws as [tf.Tensor2D, tf.Tensor | undefined];
      return [denseOp(paramsFor(kernel, bias ?? null))];
    }
    case 'BatchNormalization': {
      const { scale, shift } = batchNormAffine(layer, info);
      own(scale);
      own(shift);
      return [affineOp({ kernel: scale, bias: shift })];
    }
    case 'AveragePooling2D':
    case 'MaxPooling2D': {
      const pool = pairOf(cfg['poolSize'], 'poolSize', info.name);
      const g = { pool, strides: pairOf(cfg['strides'] ?? cfg['poolSize'], 'strides', info.name), padding: cfg['padding'] === 'same' ? ('same' as const) : ('valid' as const) };
      return [info.className === 'AveragePooling2D' ? avgPoolOp(g) : maxPoolOp(g)];
    }
    case 'GlobalAveragePooling2D':
      return [globalAvgPoolOp(cfg['keepDims'] === true)];
    case 'GlobalMaxPooling2D':
      return [globalMaxPoolOp(cfg['keepDims'] === true)];
    case 'Add':
      return [addOp()];
    default:
      throw new Error(`cnn-xai lrp internal: no linear step for ${info.className}`);
  }
}

export interface PlanOptions {
  composite: Composite;
  /** Entries of the `rules` option, tried before the composite. */
  entries: readonly RuleEntry[];
  /** Fold BatchNorm layers into the layer that feeds them (default: the composite's `canonize`, else true). */
  canonize?: boolean;
}

/**
 * Decides the rule of every layer (the `rules` entries, then the composite's first-layer map for
 * layers next to the input, then its layer map, else the plain gradient), folds BatchNorm layers
 * into their conv/dense predecessor, and builds the linear steps the rules re-run.
 * Throws UNSUPPORTED_LAYER before anything runs. Dispose `plan.owned` when done.
 */
export function buildPlan(tap: ModelTap, opts: PlanOptions): Plan {
  const kinds = checkLayers(tap);
  const first = firstLayers(tap, kinds);
  const nonNegative = nonNegativeLayers(tap, kinds);
  const canonize = opts.canonize ?? opts.composite.canonize ?? true;
  const plan: Plan = { composite: opts.composite.name, layers: new Map(), report: {}, boxes: [], owned: [], cache: lrpCache(tap) };
  const own = (t: tf.Tensor | null): void => {
    if (t) plan.owned.push(t);
  };
  const usedEntries = new Set<RuleEntry>();
  const matchedEntries = new Set<RuleEntry>();
  const resolve = (ref: LayerRef): Rule => {
    for (const e of opts.entries) if (e.matcher(ref)) matchedEntries.add(e);
    for (const e of opts.entries) {
      if (!e.matcher(ref)) continue;
      if (accepts(ref.kind, e.rule)) {
        usedEntries.add(e);
        return e.rule;
      }
    }
    const maps = [...(ref.first ? (opts.composite.first ?? []) : []), ...opts.composite.layers];
    for (const [m, rule] of maps) {
      if (!matches(m, ref)) continue;
      if (!accepts(ref.kind, rule)) {
        throw new CnnXaiError(
          'BAD_OPTION_VALUE',
          `Composite "${opts.composite.name}" gives layer "${ref.name}" (${ref.className}) the rule ${rule.label}, which does not apply to a ${ref.kind} layer.`,
          'Activations take pass or gradient; layers that only move values take gradient; other layers take the LRP rules or gradient.',
        );
      }
      return rule;
    }
    return ref.kind === 'activation' ? { type: 'pass', name: 'pass', label: 'pass' } : gradient();
  };

  try {
    // BatchNorm folding, decided first: the folded layer's rule uses the folded parameters.
    const foldOf = new Map<string, { bn: string; folding: Folding }>();
    if (canonize) {
      for (const info of tap.layers) {
        if (kinds.get(info.name) !== 'batchnorm') continue;
        const target = foldTarget(tap, info);
        if (!target) continue;
        const { scale, shift } = batchNormAffine(tap.source(info.name) as Layer, info);
        own(scale);
        own(shift);
        foldOf.set(target, { bn: info.name, folding: { scale, shift } });
      }
    }
    const folded = new Map([...foldOf].map(([target, f]) => [f.bn, target]));

    for (const info of tap.layers) {
      const kind = kinds.get(info.name);
      if (kind === undefined || info.index === 0) continue;
      const ref: LayerRef = { name: info.name, className: info.className, kind, first: first.has(info.name) };
      const into = folded.get(info.name);
      if (into !== undefined) {
        // The layer it is folded into propagates for both; if that layer keeps its plain gradient,
        // so does the BatchNorm (passing relevance through would drop its scale).
        const withRule = plan.layers.get(into)?.rule.type === 'basic';
        const rule: Rule = withRule ? { type: 'pass', name: 'pass', label: 'pass' } : gradient();
        plan.layers.set(info.name, { name: info.name, className: info.className, kind, rule, stages: [], nonNegative: [], ...(withRule ? { foldedInto: into } : {}) });
        plan.report[info.name] = withRule ? `folded into ${into}` : 'gradient';
        continue;
      }
      // checkLayers let a softmax through only where the tap leaves it out (the model's last op).
      const softmaxLeftOut = info.activation === 'softmax';
      if (softmaxLeftOut && kind === 'activation') {
        plan.layers.set(info.name, { name: info.name, className: info.className, kind, rule: gradient(), stages: [], nonNegative: [] });
        plan.report[info.name] = 'left out (softmax: logits are explained)';
        continue;
      }
      const rule = resolve(ref);
      const lp: LayerPlan = { name: info.name, className: info.className, kind, rule, stages: [], nonNegative: info.inbound.map(nonNegative) };
      if (kind !== 'activation' && info.activation !== 'linear' && !softmaxLeftOut) {
        lp.activationRule = resolve({ ...ref, kind: 'activation' });
      }
      const fold = rule.type === 'basic' ? foldOf.get(info.name) : undefined;
      if (fold) lp.folds = fold.bn;
      let label = rule.label;
      if (rule.type === 'basic') {
        const ops = stagesOf(info, tap.source(info.name) as Layer, fold?.folding ?? null, own);
        if (ops.length === 2) {
          // SeparableConv2D: the depthwise step touches the input (it takes the first-layer rule),
          // the pointwise step takes the layer's rule without the first-layer map.
          const pwRule = ref.first ? resolve({ ...ref, first: false }) : rule;
          const pw = pwRule.type === 'basic' ? pwRule : gradient();
          lp.stages = [
            { op: ops[0] as LayerOp, rule },
            { op: ops[1] as LayerOp, rule: pw },
          ];
          if (pw.label !== rule.label) label = `${rule.label} (depthwise) + ${pw.label} (pointwise)`;
        } else {
          lp.stages = [{ op: ops[0] as LayerOp, rule }];
        }
        if (rule.name === 'z-box' && ref.first) plan.boxes.push({ layer: info.name, rule });
      }
      if (lp.activationRule) label += `, ${info.activation}: ${lp.activationRule.label}`;
      if (softmaxLeftOut) label += ', softmax left out (logits are explained)';
      if (kind === 'activation' && info.className === 'Activation') label += ` (${info.activation})`;
      if (fold) label += ` (with ${fold.bn} folded in)`;
      plan.layers.set(info.name, lp);
      plan.report[info.name] = label;
    }

    const names = tap.layers.filter((l) => kinds.has(l.name) && l.index > 0).map((l) => `${l.name} (${l.className})`);
    for (const e of opts.entries) {
      if (!matchedEntries.has(e)) {
        throw new CnnXaiError('BAD_OPTION_VALUE', `The LRP rules entry "${e.pattern}=${e.rule.label}" matches no layer.`, `The model's layers: ${listNames(names)}.`);
      }
      if (!usedEntries.has(e)) {
        throw new CnnXaiError(
          'BAD_OPTION_VALUE',
          `The LRP rules entry "${e.pattern}=${e.rule.label}" fits none of the layers it matches (or an earlier entry took them).`,
          'Activations take pass or gradient; Concatenate, Flatten, Reshape, Dropout and ZeroPadding2D take gradient; folded BatchNorm layers take their predecessor\'s rule; other layers take the LRP rules or gradient.',
        );
      }
    }
    return plan;
  } catch (e) {
    plan.owned.forEach((t) => t.dispose());
    throw e;
  }
}

import { CnnXaiError, listNames } from '@cnn-xai/core';
import {
  alphaBeta,
  epsilon,
  flat,
  gamma,
  gradient,
  norm,
  pass,
  wSquare,
  zBox,
  zPlus,
  type Bound,
  type Rule,
} from './rules.js';

/**
 * Composites: which rule each layer gets (Zennit's `LayerMapComposite` and
 * `SpecialFirstLayerMapComposite`). A composite is data: an ordered list of (layer matcher, rule)
 * pairs, tried in order, and an optional list for the layers next to the input, tried first.
 */

/** What a layer is, for LRP. */
export type LayerKind =
  | 'conv' // Conv2D, DepthwiseConv2D, SeparableConv2D (Zennit's Convolution)
  | 'dense' // Dense (torch.nn.Linear)
  | 'batchnorm' // BatchNormalization that could not be folded into a preceding layer
  | 'avgpool' // AveragePooling2D, GlobalAveragePooling2D (Zennit's AvgPool)
  | 'maxpool' // MaxPooling2D, GlobalMaxPooling2D
  | 'add' // Add (Zennit's Sum)
  | 'activation' // Activation, ReLU layers and the activation that ends a Conv2D/Dense layer
  | 'structure'; // moves values only: Concatenate, Flatten, Reshape, Dropout, ZeroPadding2D, InputLayer

/** The layer classes LRP handles, by kind. */
export const LAYER_KINDS: Readonly<Record<string, LayerKind>> = Object.freeze({
  Conv2D: 'conv',
  DepthwiseConv2D: 'conv',
  SeparableConv2D: 'conv',
  Dense: 'dense',
  BatchNormalization: 'batchnorm',
  AveragePooling2D: 'avgpool',
  GlobalAveragePooling2D: 'avgpool',
  MaxPooling2D: 'maxpool',
  GlobalMaxPooling2D: 'maxpool',
  Add: 'add',
  Activation: 'activation',
  ReLU: 'activation',
  // Only as the model's last layer, which the tap leaves out in logits mode (the default).
  Softmax: 'activation',
  Concatenate: 'structure',
  Flatten: 'structure',
  Reshape: 'structure',
  Dropout: 'structure',
  SpatialDropout1D: 'structure',
  SpatialDropout2D: 'structure',
  GaussianNoise: 'structure',
  GaussianDropout: 'structure',
  AlphaDropout: 'structure',
  ZeroPadding2D: 'structure',
  InputLayer: 'structure',
});

/** A layer as a composite's matchers see it. */
export interface LayerRef {
  /** Tap name (`outer/inner` inside nested models). */
  name: string;
  /** Keras class name. */
  className: string;
  kind: LayerKind;
  /** True for layers that read the model input directly (through padding, reshapes or dropout only). */
  first: boolean;
}

/**
 * Selects layers: a kind, `linear` (conv or dense, Zennit's Linear), a Keras class name
 * (`Conv2D`), or a predicate.
 */
export type LayerMatcher = LayerKind | 'linear' | ((layer: LayerRef) => boolean) | { className: string } | { name: string };

export type RuleMap = ReadonlyArray<readonly [LayerMatcher, Rule]>;

export interface Composite {
  name: string;
  /** Rules for the layers next to the input, tried before `layers` (Zennit's `first_map`). */
  first?: RuleMap;
  /** Rules for every layer, the first match wins. Unmatched layers pass the plain gradient. */
  layers: RuleMap;
  /** Fold BatchNorm into the preceding conv or dense layer for the explanation (default true). */
  canonize?: boolean;
}

const KINDS = new Set<string>(['conv', 'dense', 'batchnorm', 'avgpool', 'maxpool', 'add', 'activation', 'structure', 'linear']);

export function matches(m: LayerMatcher, layer: LayerRef): boolean {
  if (typeof m === 'function') return m(layer);
  if (typeof m === 'string') return m === 'linear' ? layer.kind === 'conv' || layer.kind === 'dense' : layer.kind === m;
  if ('className' in m) return layer.className === m.className;
  return layer.name === m.name;
}

/** Checks a composite and returns it: for programmatic use, e.g. `composite: defineComposite({...})`. */
export function defineComposite(c: Composite): Composite {
  if (typeof c?.name !== 'string' || !Array.isArray(c.layers)) {
    throw new CnnXaiError('BAD_OPTION_VALUE', 'An LRP composite needs a name and a `layers` rule map.', 'Build it with defineComposite({ name, layers: [[matcher, rule], ...] }).');
  }
  for (const [m, rule] of [...(c.first ?? []), ...c.layers]) {
    const okMatcher =
      typeof m === 'function' || (typeof m === 'string' && KINDS.has(m)) || (typeof m === 'object' && m !== null && ('className' in m || 'name' in m));
    if (!okMatcher) {
      throw new CnnXaiError('BAD_OPTION_VALUE', `Composite "${c.name}" has a layer matcher ${JSON.stringify(m)}.`, `Use a kind (${[...KINDS].join(', ')}), { className }, { name } or a function.`);
    }
    if (!rule || !['basic', 'pass', 'gradient'].includes((rule as Rule).type)) {
      throw new CnnXaiError('BAD_OPTION_VALUE', `Composite "${c.name}" maps a layer to something that is not a rule.`, 'Use the rule factories: epsilon(), zPlus(), gamma(), ...');
    }
  }
  return c;
}

/** Parameters the named composites take (the explainer's options). */
export interface CompositeParams {
  epsilon?: number;
  gamma?: number;
  low?: Bound;
  high?: Bound;
  /** Stabilizer of the rules other than epsilon (default 1e-6, as Zennit). */
  stabilizer?: number;
}

export const COMPOSITE_NAMES = ['epsilon', 'epsilon-plus', 'epsilon-plus-flat', 'epsilon-gamma-box', 'epsilon-alpha2-beta1'] as const;
export type CompositeName = (typeof COMPOSITE_NAMES)[number];

/** Zennit's LAYER_MAP_BASE: activations pass, sums and average pools are normalized. */
function base(p: CompositeParams): Array<readonly [LayerMatcher, Rule]> {
  const n = norm(p.stabilizer !== undefined ? { stabilizer: p.stabilizer } : {});
  return [
    ['activation', pass()],
    ['add', n],
    ['avgpool', n],
  ];
}

const eps = (p: CompositeParams): Rule => epsilon(p.epsilon !== undefined ? { epsilon: p.epsilon } : {});
const stab = (p: CompositeParams): { stabilizer?: number } => (p.stabilizer !== undefined ? { stabilizer: p.stabilizer } : {});

/** The named composites, as Zennit defines them (plus `epsilon`: LRP-epsilon everywhere, Captum's LRP). */
export const COMPOSITES: Readonly<Record<CompositeName, (p?: CompositeParams) => Composite>> = Object.freeze({
  /** LRP-epsilon on every layer with weights, on average pools and sums; activations pass (Captum's default LRP). */
  epsilon: (p: CompositeParams = {}) =>
    defineComposite({
      name: 'epsilon',
      layers: [
        ['activation', pass()],
        ['linear', eps(p)],
        ['batchnorm', eps(p)],
        ['avgpool', eps(p)],
        ['add', eps(p)],
      ],
    }),
  /** Zennit's EpsilonPlus: z+ on convolutions, epsilon on dense layers. */
  'epsilon-plus': (p: CompositeParams = {}) =>
    defineComposite({
      name: 'epsilon-plus',
      layers: [...base(p), ['conv', zPlus(stab(p))], ['dense', eps(p)], ['batchnorm', eps(p)]],
    }),
  /** Zennit's EpsilonPlusFlat: flat on the layer(s) next to the input, z+ on convolutions, epsilon on dense layers. */
  'epsilon-plus-flat': (p: CompositeParams = {}) =>
    defineComposite({
      name: 'epsilon-plus-flat',
      first: [['linear', flat(stab(p))]],
      layers: [...base(p), ['conv', zPlus(stab(p))], ['dense', eps(p)], ['batchnorm', eps(p)]],
    }),
  /** Zennit's EpsilonGammaBox: z-box on the first convolution(s), gamma on the others, epsilon on dense layers. */
  'epsilon-gamma-box': (p: CompositeParams = {}) =>
    defineComposite({
      name: 'epsilon-gamma-box',
      first: [['conv', zBox({ low: p.low ?? 0, high: p.high ?? 1, ...stab(p) })]],
      layers: [...base(p), ['conv', gamma({ gamma: p.gamma ?? 0.25, ...stab(p) })], ['dense', eps(p)], ['batchnorm', eps(p)]],
    }),
  /** Zennit's EpsilonAlpha2Beta1: alpha-beta(2, 1) on convolutions, epsilon on dense layers. */
  'epsilon-alpha2-beta1': (p: CompositeParams = {}) =>
    defineComposite({
      name: 'epsilon-alpha2-beta1',
      layers: [...base(p), ['conv', alphaBeta({ alpha: 2, beta: 1, ...stab(p) })], ['dense', eps(p)], ['batchnorm', eps(p)]],
    }),
});

const RULE_FORMAT =
  'Write entries "pattern=rule" separated by commas, e.g. "conv1=z-box,Dense=epsilon(1e-3),conv*=gamma(0.5)". A pattern is a layer name (with * and ? wildcards), a class name (Conv2D) or a kind (@conv, @dense, @linear, @batchnorm, @avgpool, @maxpool, @add, @activation, @first). Rules: epsilon(eps), zero, gamma(g), alpha-beta(a,b), z-plus, z-box(low,high), flat, w-square, norm, pass, gradient.';

export const RULE_NAMES = ['epsilon', 'zero', 'gamma', 'alpha-beta', 'z-plus', 'z-box', 'flat', 'w-square', 'norm', 'pass', 'gradient'] as const;

/** Builds a rule from its name and arguments as the `rules` option writes them; defaults from `p`. */
export function ruleFromSpec(spec: string, p: CompositeParams = {}): Rule {
  const m = /^\s*([a-z0-9-]+)\s*(?:\((.*)\))?\s*$/i.exec(spec);
  const bad = (why: string): never => {
    throw new CnnXaiError('BAD_OPTION_VALUE', `LRP rule "${spec}": ${why}.`, RULE_FORMAT);
  };
  if (!m) return bad('cannot read it');
  const name = (m[1] as string).toLowerCase();
  const args = m[2] === undefined || m[2].trim() === '' ? [] : m[2].split(',').map((a) => Number(a.trim()));
  if (args.some((a) => !Number.isFinite(a))) bad('its arguments must be numbers');
  const at = (i: number, fallback: number): number => (args[i] === undefined ? fallback : (args[i] as number));
  const maxArgs = (k: number): void => {
    if (args.length > k) bad(`it takes ${k === 0 ? 'no arguments' : `at most ${k} argument${k > 1 ? 's' : ''}`}`);
  };
  const s = stab(p);
  switch (name) {
    case 'epsilon':
      maxArgs(1);
      return epsilon({ epsilon: at(0, p.epsilon ?? 1e-6) });
    case 'zero':
      maxArgs(0);
      return { ...epsilon({ epsilon: 0 }), label: 'zero' };
    case 'gamma':
      maxArgs(1);
      return gamma({ gamma: at(0, p.gamma ?? 0.25), ...s });
    case 'alpha-beta':
      maxArgs(2);
      return alphaBeta({ alpha: at(0, 2), beta: at(1, args[0] === undefined ? 1 : at(0, 2) - 1), ...s });
    case 'z-plus':
      maxArgs(0);
      return zPlus(s);
    case 'z-box': {
      maxArgs(2);
      const low = args[0] ?? p.low ?? 0;
      const high = args[1] ?? p.high ?? 1;
      return zBox({ low, high, ...s });
    }
    case 'flat':
      maxArgs(0);
      return flat(s);
    case 'w-square':
      maxArgs(0);
      return wSquare(s);
    case 'norm':
      maxArgs(1);
      return norm({ stabilizer: at(0, p.stabilizer ?? 1e-6) });
    case 'pass':
      maxArgs(0);
      return pass();
    case 'gradient':
      maxArgs(0);
      return gradient();
    default:
      return bad(`unknown rule "${name}" (rules: ${RULE_NAMES.join(', ')})`);
  }
}

function globToRegExp(glob: string): RegExp {
  const escaped = glob.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.');
  return new RegExp(`^${escaped}$`);
}

/** One entry of the `rules` option. */
export interface RuleEntry {
  pattern: string;
  matcher: (layer: LayerRef) => boolean;
  rule: Rule;
}

/** Splits on commas and semicolons outside parentheses. */
function splitEntries(s: string): string[] {
  const out: string[] = [];
  let depth = 0;
  let cur = '';
  for (const ch of s) {
    if (ch === '(') depth++;
    if (ch === ')') depth = Math.max(0, depth - 1);
    if ((ch === ',' || ch === ';') && depth === 0) {
      out.push(cur);
      cur = '';
    } else cur += ch;
  }
  out.push(cur);
  return out.map((e) => e.trim()).filter(Boolean);
}

/**
 * Parses the `rules` option: "conv1=z-box,Dense=epsilon(1e-3),conv*=gamma(0.5)". Entries come
 * before the composite's rules, the first matching entry wins.
 */
export function parseRules(spec: string, p: CompositeParams = {}): RuleEntry[] {
  return splitEntries(spec).map((entry) => {
    const eq = entry.indexOf('=');
    if (eq <= 0) {
      throw new CnnXaiError('BAD_OPTION_VALUE', `LRP rules entry "${entry}" has no "pattern=rule" form.`, RULE_FORMAT);
    }
    const pattern = entry.slice(0, eq).trim();
    const rule = ruleFromSpec(entry.slice(eq + 1), p);
    let matcher: (l: LayerRef) => boolean;
    if (pattern.startsWith('@')) {
      const kind = pattern.slice(1);
      if (kind === 'first') matcher = (l) => l.first;
      else if (KINDS.has(kind)) matcher = (l) => matches(kind as LayerMatcher, l);
      else {
        throw new CnnXaiError('BAD_OPTION_VALUE', `LRP rules entry "${entry}": unknown kind "${pattern}".`, `Kinds: ${[...KINDS, 'first'].map((k) => `@${k}`).join(', ')}.`);
      }
    } else {
      const re = globToRegExp(pattern);
      matcher = (l) => l.className === pattern || re.test(l.name);
    }
    return { pattern, matcher, rule };
  });
}

/** Which rules a layer of a kind can take. */
export function accepts(kind: LayerKind, rule: Rule): boolean {
  switch (kind) {
    case 'structure':
      return rule.type === 'gradient';
    case 'activation':
      return rule.type === 'pass' || rule.type === 'gradient';
    default:
      return rule.type === 'basic' || rule.type === 'gradient';
  }
}

export function unknownCompositeError(value: unknown): CnnXaiError {
  return new CnnXaiError(
    'BAD_OPTION_VALUE',
    `LRP composite ${JSON.stringify(value) ?? String(value)} is not a composite.`,
    `Use one of ${listNames([...COMPOSITE_NAMES])}, or a composite object from defineComposite().`,
  );
}

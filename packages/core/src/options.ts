import { CnnXaiError, listNames } from './errors.js';

/**
 * Option schemas. An explainer declares its options once; core resolves defaults, checks
 * ranges and choices, and the site, slides and CLI build their controls from the same
 * declaration. Unknown names and out-of-range values are errors, never ignored.
 */
interface SpecBase<T> {
  description: string;
  default: T;
}
export interface NumberSpec extends SpecBase<number> {
  type: 'number';
  min?: number;
  max?: number;
  integer?: boolean;
}
export interface BooleanSpec extends SpecBase<boolean> {
  type: 'boolean';
}
export interface ChoiceSpec<C extends string = string> extends SpecBase<C> {
  type: 'choice';
  choices: readonly C[];
}
export interface StringSpec extends SpecBase<string> {
  type: 'string';
}
/** A layer name or a list of them; `undefined` means "let the explainer pick". */
export interface LayerSpec extends SpecBase<string | string[] | undefined> {
  type: 'layer';
  multiple?: boolean;
}
/**
 * A named choice or, from the API, an array/tensor-like value (e.g. a custom baseline).
 * The CLI and the UI only offer the named choices.
 */
export interface ChoiceOrValueSpec<C extends string = string> extends SpecBase<C> {
  type: 'choice-or-value';
  choices: readonly C[];
}

export type OptionSpec =
  | NumberSpec
  | BooleanSpec
  | ChoiceSpec
  | StringSpec
  | LayerSpec
  | ChoiceOrValueSpec;

export type OptionsSchema = Record<string, OptionSpec>;

type ValueOf<S extends OptionSpec> = S extends NumberSpec
  ? number
  : S extends BooleanSpec
    ? boolean
    : S extends ChoiceSpec<infer C>
      ? C
      : S extends LayerSpec
        ? string | string[] | undefined
        : S extends ChoiceOrValueSpec<infer C>
          ? C | unknown
          : string;

/** The resolved options object an explainer receives. */
export type OptionsOf<S extends OptionsSchema> = { [K in keyof S]: ValueOf<S[K]> };

// Helpers that keep literal types of choices when declaring a schema.
export const opt = {
  number: (s: Omit<NumberSpec, 'type'>): NumberSpec => ({ type: 'number', ...s }),
  integer: (s: Omit<NumberSpec, 'type' | 'integer'>): NumberSpec => ({ type: 'number', integer: true, ...s }),
  boolean: (s: Omit<BooleanSpec, 'type'>): BooleanSpec => ({ type: 'boolean', ...s }),
  choice: <const C extends string>(s: Omit<ChoiceSpec<C>, 'type'>): ChoiceSpec<C> => ({ type: 'choice', ...s }),
  string: (s: Omit<StringSpec, 'type'>): StringSpec => ({ type: 'string', ...s }),
  layer: (s: Omit<LayerSpec, 'type'>): LayerSpec => ({ type: 'layer', ...s }),
  choiceOrValue: <const C extends string>(s: Omit<ChoiceOrValueSpec<C>, 'type'>): ChoiceOrValueSpec<C> => ({
    type: 'choice-or-value',
    ...s,
  }),
};

function describeAllowed(spec: OptionSpec): string {
  switch (spec.type) {
    case 'number': {
      const kind = spec.integer ? 'an integer' : 'a number';
      const lo = spec.min !== undefined ? ` >= ${spec.min}` : '';
      const hi = spec.max !== undefined ? `${lo ? ' and' : ''} <= ${spec.max}` : '';
      return `${kind}${lo}${hi}`;
    }
    case 'boolean':
      return 'true or false';
    case 'choice':
      return `one of ${spec.choices.join(', ')}`;
    case 'choice-or-value':
      return `one of ${spec.choices.join(', ')} (or an array/tensor from the API)`;
    case 'layer':
      return spec.multiple ? 'a layer name or a list of layer names' : 'a layer name';
    case 'string':
      return 'a string';
  }
}

/**
 * Coerces one value (strings from the CLI or URL are accepted) and checks it against the spec.
 */
export function coerceOption(explainerId: string, name: string, spec: OptionSpec, value: unknown): unknown {
  const bad = (): never => {
    throw new CnnXaiError(
      'BAD_OPTION_VALUE',
      `Option "${name}" of ${explainerId} got ${JSON.stringify(value) ?? String(value)}.`,
      `Allowed: ${describeAllowed(spec)}.`,
    );
  };
  switch (spec.type) {
    case 'number': {
      const n = typeof value === 'string' && value.trim() !== '' ? Number(value) : value;
      if (typeof n !== 'number' || !Number.isFinite(n)) return bad();
      if (spec.integer && !Number.isInteger(n)) return bad();
      if (spec.min !== undefined && n < spec.min) return bad();
      if (spec.max !== undefined && n > spec.max) return bad();
      return n;
    }
    case 'boolean': {
      if (typeof value === 'boolean') return value;
      if (value === 'true' || value === '1') return true;
      if (value === 'false' || value === '0') return false;
      return bad();
    }
    case 'choice': {
      if (typeof value !== 'string' || !(spec.choices as readonly string[]).includes(value)) return bad();
      return value;
    }
    case 'choice-or-value': {
      if (typeof value === 'string') {
        if (!(spec.choices as readonly string[]).includes(value)) return bad();
        return value;
      }
      if (value !== null && typeof value === 'object') return value; // arrays, typed arrays, tensors
      if (typeof value === 'number' && Number.isFinite(value)) return value; // a constant baseline
      return bad();
    }
    case 'layer': {
      if (value === undefined) return undefined;
      if (typeof value === 'string') {
        if (spec.multiple && value.includes(',')) return value.split(',').map((s) => s.trim()).filter(Boolean);
        return value;
      }
      if (spec.multiple && Array.isArray(value) && value.every((v) => typeof v === 'string') && value.length > 0) {
        return value;
      }
      return bad();
    }
    case 'string':
      if (typeof value !== 'string') return bad();
      return value;
  }
}

/**
 * Fills defaults and validates a partial options object against a schema.
 * Throws `UNKNOWN_OPTION` naming the allowed option names, or `BAD_OPTION_VALUE`.
 */
export function resolveOptions<S extends OptionsSchema>(
  explainerId: string,
  schema: S,
  given: Readonly<Record<string, unknown>> = {},
): OptionsOf<S> {
  const out: Record<string, unknown> = {};
  for (const key of Object.keys(given)) {
    if (!(key in schema)) {
      const names = Object.keys(schema);
      throw new CnnXaiError(
        'UNKNOWN_OPTION',
        `${explainerId} has no option "${key}".`,
        names.length ? `Its options are: ${listNames(names)}.` : 'It takes no options.',
      );
    }
  }
  for (const [key, spec] of Object.entries(schema)) {
    const v = given[key];
    out[key] = v === undefined ? spec.default : coerceOption(explainerId, key, spec, v);
  }
  return out as OptionsOf<S>;
}

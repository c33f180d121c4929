import { CnnXaiError, resolveOptions, type AnyExplainer, type OptionSpec, type Target } from '@cnn-xai/core';
import { UsageError } from './errors.js';

export interface Setting {
  /** Explainer id when given as `id.key=value`. */
  scope?: string;
  key: string;
  value: string;
}

/** Parses `--set KEY=VALUE` (or `ID.KEY=VALUE` for one method among several). */
export function parseSet(text: string): Setting {
  const eq = text.indexOf('=');
  if (eq <= 0) throw new UsageError(`--set expects KEY=VALUE, got "${text}".`);
  const left = text.slice(0, eq).trim();
  const value = text.slice(eq + 1);
  const dot = left.lastIndexOf('.');
  if (dot > 0) return { scope: left.slice(0, dot), key: left.slice(dot + 1), value };
  return { key: left, value };
}

/**
 * Options per explainer from `--set` and `--layer`. With one method everything goes to it (core
 * rejects unknown names, listing the method's options). With several, a plain key goes to the
 * methods that have such an option and `ID.KEY` to one method; a key no method has is an error.
 * All values are checked here (coerced by core), before any model is loaded.
 */
export function optionsPerMethod(
  explainers: readonly AnyExplainer[],
  sets: readonly Setting[],
): Map<string, Record<string, unknown>> {
  const out = new Map<string, Record<string, unknown>>(explainers.map((e) => [e.id, {}]));
  for (const s of sets) {
    if (s.scope !== undefined) {
      const opts = out.get(s.scope);
      if (!opts) {
        throw new UsageError(`--set ${s.scope}.${s.key}: "${s.scope}" is not one of the methods asked for (${explainers.map((e) => e.id).join(', ')}).`);
      }
      opts[s.key] = s.value;
      continue;
    }
    if (explainers.length === 1) {
      (out.get((explainers[0] as AnyExplainer).id) as Record<string, unknown>)[s.key] = s.value;
      continue;
    }
    const takers = explainers.filter((e) => s.key in e.options);
    if (takers.length === 0) {
      const lists = explainers.map((e) => `${e.id}: ${Object.keys(e.options).join(', ') || '(none)'}`).join('; ');
      throw new CnnXaiError('UNKNOWN_OPTION', `None of the methods has an option "${s.key}".`, `Their options are ${lists}.`);
    }
    for (const e of takers) (out.get(e.id) as Record<string, unknown>)[s.key] = s.value;
  }
  for (const e of explainers) resolveOptions(e.id, e.options, out.get(e.id));
  return out;
}

/** `top`, a class index, or one index per image (comma-separated). */
export function parseTarget(text: string | undefined): Target {
  if (text === undefined || text === 'top') return 'top';
  const parts = text.split(',').map((s) => s.trim());
  if (parts.some((p) => !/^\d+$/.test(p))) {
    throw new UsageError(`--target expects "top", a class index or a comma-separated list of them, got "${text}".`);
  }
  const nums = parts.map(Number);
  return nums.length === 1 ? (nums[0] as number) : nums;
}

export function parseInteger(flag: string, text: string | undefined, min: number): number | undefined {
  if (text === undefined) return undefined;
  if (!/^-?\d+$/.test(text.trim()) || Number(text) < min) {
    throw new UsageError(`${flag} expects an integer >= ${min}, got "${text}".`);
  }
  return Number(text);
}

/** One option's range, choices and default for `list`. */
export function describeSpec(spec: OptionSpec): string {
  const def = spec.default === undefined ? 'auto' : Array.isArray(spec.default) ? spec.default.join(',') : String(spec.default);
  let what: string;
  switch (spec.type) {
    case 'number': {
      const kind = spec.integer ? 'integer' : 'number';
      const { min, max } = spec;
      what =
        min !== undefined && max !== undefined
          ? `${kind} ${min}..${max}`
          : min !== undefined
            ? `${kind} >= ${min}`
            : max !== undefined
              ? `${kind} <= ${max}`
              : kind;
      break;
    }
    case 'boolean':
      what = 'true|false';
      break;
    case 'choice':
    case 'choice-or-value':
      what = spec.choices.join('|');
      break;
    case 'layer':
      what = spec.multiple ? 'layer[,layer...]' : 'layer';
      break;
    case 'string':
      what = 'string';
      break;
  }
  return `${what} (default ${def})`;
}

/** An option spec as plain JSON (an `undefined` default becomes null). */
export function specJson(spec: OptionSpec): Record<string, unknown> {
  return { ...spec, default: spec.default === undefined ? null : spec.default };
}

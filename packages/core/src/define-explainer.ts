import { CnnXaiError } from './errors.js';
import type { OptionsSchema } from './options.js';
import type { Explainer } from './types.js';

const KEBAB = /^[a-z][a-z0-9]*(-[a-z0-9]+)*$/;

/**
 * Declares an explainer. Checks the id and the option schema's defaults once, at definition
 * time, so a broken plugin fails when it is imported rather than when a user runs it.
 */
export function defineExplainer<const S extends OptionsSchema>(explainer: Explainer<S>): Explainer<S> {
  if (!KEBAB.test(explainer.id)) {
    throw new CnnXaiError('BAD_OPTION_VALUE', `Explainer id "${explainer.id}" is not kebab-case.`, 'Use e.g. "grad-cam".');
  }
  for (const [name, spec] of Object.entries(explainer.options)) {
    if (spec.type === 'choice' && !(spec.choices as readonly string[]).includes(spec.default)) {
      throw new CnnXaiError(
        'BAD_OPTION_VALUE',
        `Explainer ${explainer.id}: default of "${name}" (${spec.default}) is not among its choices.`,
      );
    }
    if (spec.type === 'number') {
      const d = spec.default;
      if ((spec.min !== undefined && d < spec.min) || (spec.max !== undefined && d > spec.max)) {
        throw new CnnXaiError('BAD_OPTION_VALUE', `Explainer ${explainer.id}: default of "${name}" is out of range.`);
      }
    }
  }
  return Object.freeze({ ...explainer, options: Object.freeze({ ...explainer.options }) }) as Explainer<S>;
}

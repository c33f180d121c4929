/**
 * A quick profile for pages and slides that run many explainers at once: sample counts and step
 * counts capped so every method finishes in about a second on a laptop. Derived from each
 * explainer's option schema, so new plugins get it without code here.
 */
import type { AnyExplainer, OptionSpec } from '@cnn-xai/core';

/** Caps by option name: Monte-Carlo samples / masks / coalitions, and integration or optimisation steps. */
export const QUICK_CAPS: Readonly<Record<string, number>> = { samples: 256, steps: 24 };

/** The options that differ from the defaults in the quick profile (empty when the defaults are already small). */
export function quickOptions(ex: AnyExplainer): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [name, spec] of Object.entries(ex.options as Record<string, OptionSpec>)) {
    const cap = QUICK_CAPS[name];
    if (cap === undefined || spec.type !== 'number' || typeof spec.default !== 'number' || spec.default <= cap) continue;
    out[name] = Math.max(spec.min ?? 0, cap);
  }
  return out;
}

/** Errors that mean "this method does not apply to this model" rather than a failure. */
export function notApplicable(e: unknown): boolean {
  const code = (e as { code?: unknown } | null)?.code;
  return code === 'UNSUPPORTED_MODEL' || code === 'UNSUPPORTED_LAYER';
}

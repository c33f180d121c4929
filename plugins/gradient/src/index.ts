import { defaultRegistry, type Registry } from '@cnn-xai/core';
import { gradient } from './gradient.js';
import { gradientXInput } from './gradient-x-input.js';
import { integratedGradients } from './integrated-gradients.js';

export { gradient, gradientXInput, integratedGradients };
export { inputGradients } from './input-gradients.js';
export { quadrature, gaussLegendre, RULES, type Rule, type Quadrature } from './quadrature.js';

export const explainers = [gradient, gradientXInput, integratedGradients] as const;

/** Registers this family's explainers (in the default registry unless one is given). */
export function register(registry: Registry = defaultRegistry): Registry {
  return registry.register(...explainers);
}

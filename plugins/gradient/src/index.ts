import { defaultRegistry, type Registry } from '@cnn-xai/core';
import { gradient } from './gradient.js';
import { gradientXInput } from './gradient-x-input.js';
import { integratedGradients } from './integrated-gradients.js';
import { guidedBackprop } from './guided-backprop.js';
import { deconvnet } from './deconvnet.js';
import { smoothgrad } from './smoothgrad.js';
import { gradientShap } from './gradient-shap.js';

export { gradient, gradientXInput, integratedGradients, guidedBackprop, deconvnet, smoothgrad, gradientShap };
export { guidedReluRule, deconvReluRule, isRelu } from './relu-rules.js';
export { NOISE_MODES, smoothableExplainers, type NoiseMode } from './smoothgrad.js';
export { inputGradients } from './input-gradients.js';

export const explainers = [gradient, gradientXInput, integratedGradients, guidedBackprop, deconvnet, smoothgrad, gradientShap] as const;

/** Registers this family's explainers (in the default registry unless one is given). */
export function register(registry: Registry = defaultRegistry): Registry {
  return registry.register(...explainers);
}

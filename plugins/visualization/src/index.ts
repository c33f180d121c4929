import { defaultRegistry, type Registry } from '@cnn-xai/core';
import { activationMaps, featureLayer, selectChannels } from './activation-maps.js';
import { attention, attentionGate, findAttentionGates, type AttentionGate } from './attention.js';
import {
  createFeatureVisualization,
  featureVisualization,
  redirectedRelu,
  type FeatureVisualizationHooks,
  type FeatureVisualizationSchema,
  type FeatureVisualizationStep,
} from './feature-visualization.js';

export { featureVisualization, createFeatureVisualization, redirectedRelu };
export type { FeatureVisualizationHooks, FeatureVisualizationSchema, FeatureVisualizationStep };
export { activationMaps, featureLayer, selectChannels };
export { attention, attentionGate, findAttentionGates, type AttentionGate };
export {
  OBJECTIVE_TYPES,
  parseObjectives,
  formatObjectives,
  resolveObjectives,
  evaluateObjectives,
  diversity,
  type ObjectiveSpec,
  type ObjectiveType,
  type ResolvedObjective,
} from './objectives.js';
export {
  PARAMETERIZATIONS,
  VALID_MODES,
  COLOR_CORRELATION_SVD_SQRT,
  COLOR_MEAN,
  colorCorrelationNormalized,
  rfft2dFreqs,
  fourierBases,
  irfft2d,
  rfft2d,
  createImageParam,
  type Parameterization,
  type ValidMode,
  type ImageParam,
  type ImageParamOptions,
  type FourierBases,
} from './param.js';
export { applyTransform, drawTransform, rotate, shear, isIdentity, type TransformOptions, type TransformDraw } from './transforms.js';
export { penalties, blurTarget, hasRegularizers, BLUR_SIGMA, type RegularizerWeights } from './regularizers.js';

export const explainers = [featureVisualization, activationMaps, attention] as const;

/** Registers this family's explainers (in the default registry unless one is given). */
export function register(registry: Registry = defaultRegistry): Registry {
  return registry.register(...explainers);
}

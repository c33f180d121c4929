import { defaultRegistry, type Registry } from '@cnn-xai/core';
import { lime } from './lime.js';
import { kernelShap } from './kernel-shap.js';

export { lime, kernelShap };
export { limeCoalitions, limeKernel, coalitionDistance, DISTANCE_SPACES } from './lime.js';
export { shapleyCoalitions, shapleyKernel, binom, type ShapleyCoalitions } from './kernel-shap.js';
export {
  featureMasks,
  gridMask,
  gridSide,
  compactIds,
  FEATURE_KINDS,
  SURROGATE_BASELINES,
  type FeatureKind,
  type FeatureMasks,
  type SurrogateBaseline,
} from './features.js';
export { slic, enforceConnectivity, toLab, seedGrid, type SlicOptions, type SlicResult } from './slic.js';
export { cholesky, choleskySolve, gaussSolve, solveSpd, weightedRidge, constrainedShapleyFit, type LinearFit } from './linalg.js';

export const explainers = [lime, kernelShap] as const;

/** Registers this family's explainers (in the default registry unless one is given). */
export function register(registry: Registry = defaultRegistry): Registry {
  return registry.register(...explainers);
}

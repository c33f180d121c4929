import { defaultRegistry, type Registry } from '@cnn-xai/core';
import { autoWindow, cleanScores, occlusion, occlusionGeometry, occlusionMasks, targetScores, type OcclusionGeometry } from './occlusion.js';
import {
  drawRiseMasks,
  rise,
  riseInterpolation,
  riseMasks,
  RISE_NORMALIZATIONS,
  RISE_SCORES,
  type RiseMaskSet,
  type RiseNormalization,
  type RiseScores,
} from './rise.js';

export { occlusion, occlusionGeometry, occlusionMasks, autoWindow, cleanScores, targetScores, type OcclusionGeometry };
export { rise, drawRiseMasks, riseMasks, riseInterpolation, RISE_SCORES, RISE_NORMALIZATIONS, type RiseMaskSet, type RiseScores, type RiseNormalization };

/** Black-box explainers: they need only the model's scores (`requires: { gradients: false }`). */
export const explainers = [occlusion, rise] as const;

/** Registers this family's explainers (in the default registry unless one is given). */
export function register(registry: Registry = defaultRegistry): Registry {
  return registry.register(...explainers);
}

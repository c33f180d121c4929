import { defaultRegistry, type Registry } from '@cnn-xai/core';
import { gradCam, gradCamWeights } from './grad-cam.js';

export { gradCam, gradCamWeights };
export { camLayer, weightedActivations, finishCam, type ChannelWeights } from './cam-base.js';

export const explainers = [gradCam] as const;

/** Registers this family's explainers (in the default registry unless one is given). */
export function register(registry: Registry = defaultRegistry): Registry {
  return registry.register(...explainers);
}

import { defaultRegistry, type Registry } from '@cnn-xai/core';
import { ablationCam, ablationCamWeights } from './ablation-cam.js';
import { cam, camHeadKernel } from './cam.js';
import { eigenCam, dominantEigenvector, principalProjection } from './eigen-cam.js';
import { gradCam, gradCamWeights } from './grad-cam.js';
import { gradCamPlusPlus, gradCamPlusPlusWeights } from './grad-cam-plus-plus.js';
import { guidedGradCam, UPSAMPLE_MODES } from './guided-grad-cam.js';
import { hiResCam } from './hires-cam.js';
import { integratedGradCam, pathCam } from './integrated-grad-cam.js';
import { layerCam } from './layer-cam.js';
import { scoreCam, scoreCamMasks, scoreCamWeights } from './score-cam.js';
import { xGradCam, xGradCamWeights } from './xgrad-cam.js';

export { gradCam, gradCamWeights };
export { cam, camHeadKernel };
export { gradCamPlusPlus, gradCamPlusPlusWeights };
export { xGradCam, xGradCamWeights };
export { hiResCam };
export { layerCam };
export { scoreCam, scoreCamMasks, scoreCamWeights };
export { ablationCam, ablationCamWeights };
export { eigenCam, dominantEigenvector, principalProjection };
export { integratedGradCam, pathCam };
export { guidedGradCam, UPSAMPLE_MODES };
export {
  createCamExplainer,
  camOptions,
  camLayer,
  camLayers,
  computeLayerCam,
  weightedSum,
  scaleLayerMap,
  type CamVariant,
  type CamWeights,
  type CamImage,
  type CamWeightArgs,
  type CamOptionsSchema,
  type ChannelWeights,
} from './cam-base.js';

export const explainers = [
  gradCam,
  cam,
  gradCamPlusPlus,
  xGradCam,
  hiResCam,
  layerCam,
  scoreCam,
  ablationCam,
  eigenCam,
  integratedGradCam,
  guidedGradCam,
] as const;

/**
 * Registers this family's explainers (in the default registry unless one is given).
 * guided-grad-cam also needs `guided-backprop`: register @cnn-xai/plugin-gradient as well.
 */
export function register(registry: Registry = defaultRegistry): Registry {
  return registry.register(...explainers);
}

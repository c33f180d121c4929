import { defaultRegistry, type Registry } from '@cnn-xai/core';
import { adaSise } from './ada-sise.js';
import { sise } from './sise.js';

export { sise, adaSise };
export { blockLayers, siseLayers, isDownsampling } from './layers.js';
export { otsuBin, otsuThreshold, siseOtsuThreshold, histogram255, OTSU_BINS } from './otsu.js';
export {
  FUSIONS,
  SCORES,
  attributionMasks,
  fuseBlocks,
  otsuSelector,
  runSise,
  siseOptions,
  thresholdSelector,
  type ChannelSelector,
  type Fusion,
  type ScoreMode,
  type SiseSettings,
} from './pipeline.js';

export const explainers = [sise, adaSise] as const;

/** Registers this family's explainers (in the default registry unless one is given). */
export function register(registry: Registry = defaultRegistry): Registry {
  return registry.register(...explainers);
}

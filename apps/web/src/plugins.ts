/**
 * The explainer plugins the site and the slides ship with. Pages and slides list whatever this
 * registry holds, so adding a technique family to both is one line in PLUGINS below (plus the
 * workspace dependency in apps/web/package.json).
 */
import { createRegistry, type Registry } from '@cnn-xai/core';
import { register as registerCam } from '@cnn-xai/plugin-cam';
import { register as registerGradient } from '@cnn-xai/plugin-gradient';
import { register as registerLrp } from '@cnn-xai/plugin-lrp';
import { register as registerPerturbation } from '@cnn-xai/plugin-perturbation';
import { register as registerSise } from '@cnn-xai/plugin-sise';
import { register as registerSurrogate } from '@cnn-xai/plugin-surrogate';
import { register as registerVisualization } from '@cnn-xai/plugin-visualization';

type Register = (registry: Registry) => Registry;

/** In display order: gradients, CAMs, relevance, perturbation, surrogates, SISE, visualisation. */
export const PLUGINS: readonly Register[] = [
  registerGradient,
  registerCam,
  registerLrp,
  registerPerturbation,
  registerSurrogate,
  registerSise,
  registerVisualization,
];

/** The registry every page and slide reads. */
export const registry: Registry = createRegistry();
for (const register of PLUGINS) register(registry);

import { defineExplainer } from '@cnn-xai/core';
import { otsuSelector, runSise, siseOptions } from './pipeline.js';

/**
 * Ada-SISE (Sudhakar et al., ICASSP 2021): SISE with an adaptive, per-layer feature-map
 * selection: Otsu's threshold on the positive average gradients divided by their maximum,
 * instead of a fixed mu. Its masks are a subset of SISE's (mu = 0), so it needs fewer
 * forward passes.
 */
export const adaSise = defineExplainer({
  id: 'ada-sise',
  name: 'Ada-SISE',
  family: 'sise',
  kind: 'perturbation',
  description:
    'SISE with an adaptive feature-map selection: per layer, only the maps whose average gradient is above the Otsu threshold of the positive ones mask the input, so fewer forward passes.',
  paper: {
    title: 'Ada-SISE: Adaptive Semantic Input Sampling for Efficient Explanation of Convolutional Neural Networks',
    authors: 'Sudhakar, Sattarzadeh, Plataniotis, Jang, Jeong, Kim',
    year: 2021,
    url: 'https://arxiv.org/abs/2102.07799',
  },
  requires: { gradients: true, layer: 'conv' },
  options: siseOptions(),
  async explain(x, ctx, o) {
    return runSise(x, ctx, o, otsuSelector());
  },
});

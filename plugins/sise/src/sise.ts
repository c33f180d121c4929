import { defineExplainer, opt } from '@cnn-xai/core';
import { runSise, siseOptions, thresholdSelector } from './pipeline.js';

/**
 * SISE (Sattarzadeh et al., AAAI 2021): feature maps of one layer per block, chosen by their
 * average gradient (alpha_k > mu max alpha), become attribution masks; the masked inputs'
 * scores weight the masks (RISE-like, area-normalised) into one map per block; the block maps
 * are fused from low to high level with Otsu thresholds. Deterministic: no random masks.
 * Costs one forward + backward pass, plus one forward pass per kept feature map.
 */
export const sise = defineExplainer({
  id: 'sise',
  name: 'SISE',
  family: 'sise',
  kind: 'perturbation',
  description:
    'Semantic Input Sampling for Explanation: the positively contributing feature maps of one layer per block mask the input; the masked images\' scores turn them into one map per block, fused from low to high level with Otsu thresholds.',
  paper: {
    title: 'Explaining Convolutional Neural Networks through Attribution-Based Input Sampling and Block-Wise Feature Aggregation',
    authors: 'Sattarzadeh, Sudhakar, Lem, Mehryar, Plataniotis, Jang, Kim, Jeong, Lee, Bae',
    year: 2021,
    url: 'https://arxiv.org/abs/2010.00672',
  },
  requires: { gradients: true, layer: 'conv' },
  options: {
    ...siseOptions(),
    mu: opt.number({
      default: 0,
      min: 0,
      max: 1,
      description: 'Feature maps with average gradient alpha_k > mu * max_k alpha_k are kept (mu = 0: every positive one, the paper\'s setting; larger mu: fewer masks, faster).',
    }),
  },
  async explain(x, ctx, o) {
    return runSise(x, ctx, o, thresholdSelector(o.mu));
  },
});

import * as tf from '@tensorflow/tfjs-core';
import { defineExplainer, opt } from '@cnn-xai/core';
import { inputGradients } from './input-gradients.js';

/**
 * Gradient saliency: the derivative of the target score with respect to each input value.
 * Signed by default (Captum's Saliency takes |grad| by default: set `abs`).
 */
export const gradient = defineExplainer({
  id: 'gradient',
  name: 'Gradient saliency',
  family: 'gradient',
  kind: 'gradient',
  description: 'The gradient of the target score with respect to the input pixels: how a small change of each pixel moves the score.',
  paper: {
    title: 'Deep Inside Convolutional Networks: Visualising Image Classification Models and Saliency Maps',
    authors: 'Simonyan, Vedaldi, Zisserman',
    year: 2014,
    url: 'https://arxiv.org/abs/1312.6034',
  },
  requires: { gradients: true },
  options: {
    abs: opt.boolean({ default: false, description: 'Return |gradient| (the saliency map of Simonyan et al.; Captum\'s default).' }),
    batchSize: opt.integer({ default: 32, min: 1, max: 4096, description: 'Images per forward/backward pass.' }),
  },
  async explain(x, ctx, o) {
    const g = await inputGradients(x, ctx, o.batchSize);
    if (!o.abs) return { values: g, signed: true, extras: {} };
    const a = tf.abs(g);
    g.dispose();
    return { values: a, signed: false, extras: {} };
  },
});

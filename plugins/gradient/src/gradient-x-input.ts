import * as tf from '@tensorflow/tfjs-core';
import { defineExplainer, opt } from '@cnn-xai/core';
import { inputGradients } from './input-gradients.js';

/** Gradient times input: each pixel's first-order contribution to the score (Captum's InputXGradient). */
export const gradientXInput = defineExplainer({
  id: 'gradient-x-input',
  name: 'Gradient × input',
  family: 'gradient',
  kind: 'gradient',
  description: 'The input gradient multiplied elementwise by the input: a first-order estimate of each pixel\'s contribution.',
  paper: {
    title: 'Not Just a Black Box: Learning Important Features Through Propagating Activation Differences',
    authors: 'Shrikumar, Greenside, Shcherbina, Kundaje',
    year: 2016,
    url: 'https://arxiv.org/abs/1605.01713',
  },
  requires: { gradients: true },
  options: {
    batchSize: opt.integer({ default: 32, min: 1, max: 4096, description: 'Images per forward/backward pass.' }),
  },
  async explain(x, ctx, o) {
    const g = await inputGradients(x, ctx, o.batchSize);
    const values = tf.mul(g, x);
    g.dispose();
    return { values, signed: true, extras: {} };
  },
});

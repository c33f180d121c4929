import { defineExplainer, opt } from '@cnn-xai/core';
import { inputGradients } from './input-gradients.js';

/**
 * Guided backpropagation (Springenberg et al. 2014): the input gradient, except that at every
 * ReLU only positive signals that also pass the forward ReLU travel back. The rule is a backward
 * override of this call only (through the model tap), so plain gradients elsewhere are unchanged.
 * On a network without ReLUs it is the plain gradient.
 */
export const guidedBackprop = defineExplainer({
  id: 'guided-backprop',
  name: 'Guided backpropagation',
  family: 'gradient',
  kind: 'gradient',
  description:
    'The input gradient with every ReLU letting back only positive signals where its input was positive: sharp, edge-like maps of what excites the target.',
  paper: {
    title: 'Striving for Simplicity: The All Convolutional Net',
    authors: 'Springenberg, Dosovitskiy, Brox, Riedmiller',
    year: 2014,
    url: 'https://arxiv.org/abs/1412.6806',
  },
  // Overrides the backward rule of ReLU layers: needs the layer graph, not just input gradients.
  requires: { gradients: true, graph: true },
  options: {
    batchSize: opt.integer({ default: 32, min: 1, max: 4096, description: 'Images per forward/backward pass.' }),
  },
  async explain(x, ctx, o) {
    const values = await inputGradients(x, ctx, o.batchSize, 'guided-relu');
    return { values, signed: true, extras: {} };
  },
});

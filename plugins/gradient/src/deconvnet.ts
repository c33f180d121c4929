import { defineExplainer, opt } from '@cnn-xai/core';
import { inputGradients } from './input-gradients.js';

/**
 * Deconvnet (Zeiler & Fergus 2014) as a backward rule, as Captum's Deconvolution computes it:
 * the input gradient with every ReLU's backward replaced by a ReLU of the incoming signal,
 * whatever the forward input was. The rule applies to this call only (through the model tap).
 */
export const deconvnet = defineExplainer({
  id: 'deconvnet',
  name: 'Deconvnet',
  family: 'gradient',
  kind: 'gradient',
  description:
    'Projects the target score back to the pixels through the network with every ReLU rectifying the signal going back instead of gating it by the forward pass.',
  paper: {
    title: 'Visualizing and Understanding Convolutional Networks',
    authors: 'Zeiler, Fergus',
    year: 2014,
    url: 'https://arxiv.org/abs/1311.2901',
  },
  // Overrides the backward rule of ReLU layers: needs the layer graph, not just input gradients.
  requires: { gradients: true, graph: true },
  options: {
    batchSize: opt.integer({ default: 32, min: 1, max: 4096, description: 'Images per forward/backward pass.' }),
  },
  async explain(x, ctx, o) {
    const values = await inputGradients(x, ctx, o.batchSize, 'deconv-relu');
    return { values, signed: true, extras: {} };
  },
});

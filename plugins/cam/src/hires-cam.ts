import type * as tf from '@tensorflow/tfjs-core';
import { createCamExplainer } from './cam-base.js';

/**
 * HiResCAM (Draelos and Carin 2020): map = sum_k dS/dA^k ⊙ A^k, the gradient times the
 * activation at every position, summed over channels (no spatial averaging of the gradient).
 * The weights are the gradients themselves, one per position and channel.
 */
export const hiResCam = createCamExplainer({
  id: 'hires-cam',
  name: 'HiResCAM',
  description:
    'Multiplies each feature map element-wise by the gradient of the class score before summing over channels, so the map shows where the model actually looked; it equals Grad-CAM when the head is global average pooling and one dense layer.',
  paper: {
    title: 'Use HiResCAM instead of Grad-CAM for faithful explanations of convolutional neural networks',
    authors: 'Draelos, Carin',
    year: 2020,
    url: 'https://arxiv.org/abs/2011.08891',
  },
  requiresGradients: true,
  weights: ({ gradients }) => (gradients as tf.Tensor4D).clone(),
});

import * as tf from '@tensorflow/tfjs-core';
import { createCamExplainer, type ChannelWeights } from './cam-base.js';

/**
 * XGrad-CAM channel weights: w_k = sum_ij (A^k_ij / (sum_ab A^k_ab + 1e-7)) * dS/dA^k_ij, the
 * gradient averaged with the normalised activation as weights (pytorch-grad-cam's epsilon).
 */
export const xGradCamWeights: ChannelWeights = (a, g) =>
  tf.tidy(() => {
    const sumA = tf.add(tf.sum(a, [1, 2], true), 1e-7);
    return tf.sum(tf.div(tf.mul(g, a), sumA), [1, 2]) as tf.Tensor2D;
  });

/** XGrad-CAM (Fu et al. 2020). */
export const xGradCam = createCamExplainer({
  id: 'xgrad-cam',
  name: 'XGrad-CAM',
  description:
    'Axiom-based Grad-CAM: weights each feature map by its gradients averaged with the normalised activations as weights, which makes the map satisfy sensitivity and conservation axioms.',
  paper: {
    title: 'Axiom-based Grad-CAM: Towards Accurate Visualization and Explanation of CNNs',
    authors: 'Fu, Hu, Dong, Guo, Gao, Li',
    year: 2020,
    url: 'https://arxiv.org/abs/2008.02312',
  },
  requiresGradients: true,
  weights: ({ activations, gradients }) => xGradCamWeights(activations, gradients as tf.Tensor4D),
});

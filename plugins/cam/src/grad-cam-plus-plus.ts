import * as tf from '@tensorflow/tfjs-core';
import { createCamExplainer, type ChannelWeights } from './cam-base.js';

/**
 * Grad-CAM++ channel weights in pytorch-grad-cam's form (METHODS 1.3), with g = dS/dA (S the
 * logit): a_ij = g^2 / (2 g^2 + sum_ab A_ab * g^3 + 1e-6), set to 0 where g = 0, and
 * w_k = sum_ij relu(g_ij) a_ij. No exp(S) factor and no normalisation of the alphas.
 */
export const gradCamPlusPlusWeights: ChannelWeights = (a, g) =>
  tf.tidy(() => {
    const g2 = tf.square(g);
    const g3 = tf.mul(g2, g);
    const sumA = tf.sum(a, [1, 2], true);
    const alpha = tf.div(g2, tf.add(tf.add(tf.mul(g2, 2), tf.mul(sumA, g3)), 1e-6));
    const masked = tf.where(tf.notEqual(g, 0), alpha, tf.zerosLike(alpha));
    return tf.sum(tf.mul(tf.relu(g), masked), [1, 2]) as tf.Tensor2D;
  });

/** Grad-CAM++ (Chattopadhay et al. 2018). */
export const gradCamPlusPlus = createCamExplainer({
  id: 'grad-cam-plus-plus',
  name: 'Grad-CAM++',
  description:
    'Like Grad-CAM, but weights each feature map by a sum of its positive gradients with per-position coefficients from the second and third powers of the gradient, so several instances of a class all show up.',
  paper: {
    title: 'Grad-CAM++: Improved Visual Explanations for Deep Convolutional Networks',
    authors: 'Chattopadhay, Sarkar, Howlader, Balasubramanian',
    year: 2018,
    url: 'https://arxiv.org/abs/1710.11063',
  },
  requiresGradients: true,
  weights: ({ activations, gradients }) => gradCamPlusPlusWeights(activations, gradients as tf.Tensor4D),
});

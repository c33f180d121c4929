import * as tf from '@tensorflow/tfjs-core';
import { createCamExplainer, type ChannelWeights } from './cam-base.js';

/** Grad-CAM channel weights: the spatial mean of the gradients (alpha_k = mean_ij dy/dA^k_ij). */
export const gradCamWeights: ChannelWeights = (_a, g) => tf.mean(g, [1, 2]) as tf.Tensor2D;

/**
 * Grad-CAM (Selvaraju et al. 2017): ReLU(sum_k alpha_k A^k) with alpha_k the mean gradient of
 * the target logit over channel k, upsampled bilinearly to the input. `relu: false` gives the
 * raw map (Captum's LayerGradCam without relu_attributions). The layer-resolution map is kept
 * in `extras.layerMap`.
 */
export const gradCam = createCamExplainer({
  id: 'grad-cam',
  name: 'Grad-CAM',
  description: 'Weights each feature map of a convolutional layer by the mean gradient of the class score, sums them and upsamples the result.',
  paper: {
    title: 'Grad-CAM: Visual Explanations from Deep Networks via Gradient-based Localization',
    authors: 'Selvaraju, Cogswell, Das, Vedantam, Parikh, Batra',
    year: 2017,
    url: 'https://arxiv.org/abs/1610.02391',
  },
  requiresGradients: true,
  weights: ({ activations, gradients }) => gradCamWeights(activations, gradients as tf.Tensor4D),
});

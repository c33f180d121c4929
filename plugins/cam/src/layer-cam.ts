import * as tf from '@tensorflow/tfjs-core';
import { createCamExplainer } from './cam-base.js';

/**
 * LayerCAM (Jiang et al. 2021): map = sum_k relu(dS/dA^k) ⊙ A^k, a position-wise weight that
 * keeps only positive gradients; it suits shallow layers as well as the last one.
 */
export const layerCam = createCamExplainer({
  id: 'layer-cam',
  name: 'LayerCAM',
  description:
    'Weights every position of every feature map by its positive gradient (element-wise) and sums over channels, which gives usable, finer maps from shallower layers too.',
  paper: {
    title: 'LayerCAM: Exploring Hierarchical Class Activation Maps for Localization',
    authors: 'Jiang, Zhang, Hou, Cheng, Wei',
    year: 2021,
    url: 'https://doi.org/10.1109/TIP.2021.3089943',
  },
  requiresGradients: true,
  weights: ({ gradients }) => tf.relu(gradients as tf.Tensor4D),
});

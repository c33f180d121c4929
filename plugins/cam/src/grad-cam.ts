import * as tf from '@tensorflow/tfjs-core';
import { defineExplainer, opt } from '@cnn-xai/core';
import { camLayer, finishCam, weightedActivations, type ChannelWeights } from './cam-base.js';

/** Grad-CAM channel weights: the spatial mean of the gradients (alpha_k = mean_ij dy/dA^k_ij). */
export const gradCamWeights: ChannelWeights = (_a, g) => tf.mean(g, [1, 2]) as tf.Tensor2D;

/**
 * Grad-CAM (Selvaraju et al. 2017): ReLU(sum_k alpha_k A^k) with alpha_k the mean gradient of
 * the target logit over channel k, upsampled bilinearly to the input. `relu: false` gives the
 * raw map (Captum's LayerGradCam without relu_attributions). The layer-resolution map is kept
 * in `extras.layerMap`.
 */
export const gradCam = defineExplainer({
  id: 'grad-cam',
  name: 'Grad-CAM',
  family: 'cam',
  kind: 'cam',
  description: 'Weights each feature map of a convolutional layer by the mean gradient of the class score, sums them and upsamples the result.',
  paper: {
    title: 'Grad-CAM: Visual Explanations from Deep Networks via Gradient-based Localization',
    authors: 'Selvaraju, Cogswell, Das, Vedantam, Parikh, Batra',
    year: 2017,
    url: 'https://arxiv.org/abs/1610.02391',
  },
  requires: { gradients: true, layer: 'conv' },
  options: {
    layer: opt.layer({ default: undefined, description: 'Layer whose feature maps are used (default: the last layer with a 4-D output).' }),
    relu: opt.boolean({ default: true, description: 'Keep only positive evidence (ReLU of the weighted sum).' }),
    batchSize: opt.integer({ default: 32, min: 1, max: 4096, description: 'Images per forward/backward pass.' }),
  },
  async explain(x, ctx, o) {
    const layer = camLayer(ctx.tap, o.layer);
    const raw = await weightedActivations(x, ctx, layer.name, gradCamWeights, o.batchSize);
    const { values, layerMap } = finishCam(raw, o.relu, [x.shape[1], x.shape[2]]);
    raw.dispose();
    return { values, signed: !o.relu, layer: layer.name, extras: { layerMap } };
  },
});

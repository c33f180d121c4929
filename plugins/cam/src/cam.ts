import * as tf from '@tensorflow/tfjs-core';
import { CnnXaiError, type LayerInfo, type ModelTap } from '@cnn-xai/core';
import { createCamExplainer } from './cam-base.js';

/** Layer classes that are the identity at inference and may sit between the pooling and the dense layer. */
const PASS_THROUGH = new Set(['Dropout', 'SpatialDropout1D', 'SpatialDropout2D', 'GaussianDropout', 'GaussianNoise', 'AlphaDropout', 'Flatten']);
/** Entries of the tap's layer list that stand for a nested model (its output is its last layer's). */
const CONTAINERS = new Set(['Sequential', 'Functional', 'Model', 'LayersModel']);

type DenseLike = { getWeights(): tf.Tensor[]; getClassName(): string };

/** The tfjs layer object of a tap layer name (`outer/inner` inside nested models, `name#1` for a reuse). */
function layerObject(model: unknown, name: string): DenseLike {
  let container = model as { getLayer(name: string): unknown };
  let found: unknown;
  for (const part of name.split('/')) {
    found = container.getLayer(part.replace(/#\d+$/, ''));
    container = found as { getLayer(name: string): unknown };
  }
  return found as DenseLike;
}

/**
 * Checks that the network after `layer` is global average pooling followed by one dense layer
 * (dropout and flatten layers in between are allowed, a softmax at the end too) and returns
 * that dense layer's kernel [K, classes]: the CAM weights. Anything else is NOT_A_CAM_MODEL,
 * naming the layers found and suggesting Grad-CAM. The kernel belongs to the model: do not
 * dispose it.
 */
export function camHeadKernel(tap: ModelTap, layer: LayerInfo): tf.Tensor2D {
  const after = tap.layers.filter((l) => l.index > layer.index && !CONTAINERS.has(l.className));
  const describe = after.map((l) => `${l.name} (${l.className})`).join(', ') || 'nothing';
  const fail = (why: string): never => {
    throw new CnnXaiError(
      'NOT_A_CAM_MODEL',
      `CAM needs global average pooling and then one dense layer right after layer "${layer.name}"; ${why}. After "${layer.name}" the model has: ${describe}.`,
      'Use grad-cam, which equals CAM on such a head and works with any head (or pick the layer that feeds the global average pooling).',
    );
  };
  let i = 0;
  if (after[i]?.className !== 'GlobalAveragePooling2D') fail('the next layer is not GlobalAveragePooling2D');
  i++;
  while (after[i] && PASS_THROUGH.has(after[i]?.className as string)) i++;
  const dense = after[i];
  if (dense?.className !== 'Dense') fail('the pooling is not followed by a Dense layer');
  const d = dense as LayerInfo;
  if (d.activation !== 'linear' && d.activation !== 'softmax') fail(`the Dense layer "${d.name}" has a ${d.activation} activation`);
  const rest = after.slice(i + 1);
  const softmaxOnly = rest.length === 1 && (rest[0]?.className === 'Softmax' || (rest[0]?.className === 'Activation' && rest[0]?.activation === 'softmax'));
  if (rest.length > 0 && !softmaxOnly) fail(`more layers follow the Dense layer "${d.name}"`);
  if (tap.headNeedsContext(layer.name)) fail('the rest of the network also reads layers before it (a skip connection)');
  const kernel = layerObject(tap.model, d.name).getWeights()[0] as tf.Tensor2D;
  const k = layer.outputShape[3];
  if (kernel.rank !== 2 || kernel.shape[0] !== k) fail(`the Dense kernel has shape [${kernel.shape.join(', ')}], not [${k}, classes]`);
  return kernel;
}

/**
 * CAM (Zhou et al. 2016) for a network that ends in global average pooling and one dense
 * layer: map = sum_k w_k^c A^k with w^c the dense weights of class c (the bias is left out).
 * It uses no gradients, only the layer's activations and the head's weights. The map is not
 * divided by the pooling's 1/Z, so Grad-CAM * Z equals it (METHODS 1.2). `relu: false` is the
 * unrectified map of the authors' demo; the default applies a ReLU like the other CAMs.
 */
export const cam = createCamExplainer({
  id: 'cam',
  name: 'CAM',
  description:
    'Class activation mapping: for a network ending in global average pooling and one dense layer, sums the feature maps of the last convolutional layer weighted by the dense weights of the class.',
  paper: {
    title: 'Learning Deep Features for Discriminative Localization',
    authors: 'Zhou, Khosla, Lapedriza, Oliva, Torralba',
    year: 2016,
    url: 'https://arxiv.org/abs/1512.04150',
  },
  requiresGradients: false,
  weights: ({ layer, ctx, rows }) => {
    const kernel = camHeadKernel(ctx.tap, layer);
    const classes = ctx.target.classes;
    if (!classes) {
      throw new CnnXaiError('BAD_TARGET', 'CAM reads the dense weights of a class, so it needs class indices, not a target function.', 'Pass class indices or "top", or use grad-cam.');
    }
    const idx = rows.map((r) => classes[r] as number);
    return tf.tidy(() => tf.transpose(tf.gather(kernel, tf.tensor1d(idx, 'int32'), 1)));
  },
});

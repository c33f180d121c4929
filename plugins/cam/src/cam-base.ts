import * as tf from '@tensorflow/tfjs-core';
import {
  batchRanges,
  CnnXaiError,
  resizeBilinear,
  yieldToEventLoop,
  type ExplainContext,
  type LayerInfo,
  type ModelTap,
} from '@cnn-xai/core';

/**
 * The layer a CAM method uses: the `layer` option, or the last layer with a 4-D output.
 * A layer without a spatial (4-D) output is an error naming the layers that have one.
 */
export function camLayer(tap: ModelTap, layer: string | string[] | undefined): LayerInfo {
  if (Array.isArray(layer)) {
    throw new CnnXaiError('BAD_OPTION_VALUE', 'This explainer takes a single layer.', 'Pass one layer name.');
  }
  if (layer === undefined) return tap.lastSpatialLayer();
  const info = tap.layer(layer);
  if (info.outputShape.length !== 4 || info.index === 0) {
    const spatial = tap.spatialLayers().map((l) => l.name);
    throw new CnnXaiError(
      'NO_CONV_LAYER',
      `Layer "${layer}" (${info.className}) has no spatial feature maps (output shape [${info.outputShape.map((d) => d ?? 'N').join(', ')}]).`,
      spatial.length ? `Pick a layer with a 4-D output: ${spatial.join(', ')}.` : 'The model has no such layer.',
    );
  }
  return info;
}

/**
 * Per-channel weights from the layer's activations A [B,h,w,K] and the gradient G of the
 * target score with respect to them; returns [B,K]. This is what a CAM variant supplies
 * (pytorch-grad-cam's get_cam_weights).
 */
export type ChannelWeights = (activations: tf.Tensor4D, gradients: tf.Tensor4D) => tf.Tensor2D;

/**
 * The map sum_k w_k A^k at layer resolution, [N,h,w], batched over images. Gradients and
 * activations are taken in one forward+backward pass per batch.
 */
export async function weightedActivations(
  x: tf.Tensor4D,
  ctx: ExplainContext,
  layer: string,
  weights: ChannelWeights,
  batchSize: number,
): Promise<tf.Tensor3D> {
  const n = x.shape[0];
  const parts: tf.Tensor[] = [];
  try {
    for (const [s, e] of batchRanges(n, batchSize)) {
      ctx.throwIfAborted();
      parts.push(
        tf.tidy(() => {
          const xb = tf.slice(x, [s, 0, 0, 0], [e - s, -1, -1, -1]);
          const rows = Array.from({ length: e - s }, (_, i) => s + i);
          const r = ctx.tap.gradient(xb, (out) => ctx.target.score(out, rows), { layer });
          const a = r.activation as tf.Tensor4D;
          const w = weights(a, r.gradient as tf.Tensor4D);
          return tf.sum(tf.mul(a, tf.reshape(w, [e - s, 1, 1, -1])), 3);
        }),
      );
      ctx.progress(e / n);
      await yieldToEventLoop();
    }
    return (parts.length === 1 ? (parts.shift() as tf.Tensor) : tf.concat(parts, 0)) as tf.Tensor3D;
  } finally {
    parts.forEach((p) => p.dispose());
  }
}

/** Optional ReLU, then bilinear upsampling (half-pixel centres) to the input size. */
export function finishCam(map: tf.Tensor3D, relu: boolean, size: [number, number]): { values: tf.Tensor; layerMap: tf.Tensor } {
  const layerMap = relu ? tf.relu(map) : map.clone();
  const values = resizeBilinear(layerMap, size);
  return { values, layerMap };
}

import * as tf from '@tensorflow/tfjs-core';
import {
  batchRanges,
  CnnXaiError,
  defineExplainer,
  opt,
  resizeBilinear,
  yieldToEventLoop,
  type Extra,
  type LayerInfo,
  type ModelTap,
} from '@cnn-xai/core';

/** The layer with 4-D output named by `layer`, or the last one; NO_CONV_LAYER otherwise. */
export function featureLayer(tap: ModelTap, layer: string | string[] | undefined, who: string): LayerInfo {
  if (Array.isArray(layer)) throw new CnnXaiError('BAD_OPTION_VALUE', `${who} takes a single layer.`, 'Pass one layer name.');
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
 * Per image, the channel indices to show: sorted by mean activation, descending (ties: lower
 * index first), the first `topK` kept (0: all); with `order: 'channel'` the kept ones are listed
 * in channel order.
 */
export function selectChannels(means: ArrayLike<number>, k: number, topK: number, order: 'activation' | 'channel'): number[] {
  const idx = Array.from({ length: k }, (_, i) => i);
  if (topK === 0 && order === 'channel') return idx;
  idx.sort((a, b) => (means[b] as number) - (means[a] as number) || a - b);
  const kept = topK > 0 ? idx.slice(0, Math.min(topK, k)) : idx;
  return order === 'channel' ? kept.sort((a, b) => a - b) : kept;
}

/**
 * Per image b, the channels chosen[b] of a [B, h, w, K], as [B, h, w, k]: a product with a one-hot
 * selection matrix, which copies the values exactly (x * 1 plus zeros).
 */
function pickChannels(a: tf.Tensor4D, chosen: readonly number[][], k: number): tf.Tensor4D {
  return tf.tidy(() => {
    const [b, h, w] = a.shape;
    const count = chosen[0]?.length ?? 0;
    const sel = new Float32Array(b * k * count);
    chosen.forEach((row, i) => row.forEach((c, j) => (sel[i * k * count + c * count + j] = 1)));
    const picked = tf.matMul(tf.reshape(a, [b, h * w, k]), tf.tensor3d(sel, [b, k, count]));
    return tf.reshape(picked, [b, h, w, count]);
  });
}

export const activationMaps = defineExplainer({
  id: 'activation-maps',
  name: 'Activation maps',
  family: 'visualization',
  kind: 'visualization',
  description:
    "A layer's feature maps for each image (what CNN Explainer shows), bilinearly upsampled to the input: all channels, or the k with the largest mean activation. Values are [N, H, W, K] (channels last, in the order of extras.channels); the layer-resolution maps, the channel indices and their mean activations are in the extras.",
  requires: { gradients: false, layer: 'conv' },
  options: {
    layer: opt.layer({ default: undefined, description: 'Layer whose feature maps are shown (default: the last layer with a 4-D output).' }),
    topK: opt.integer({ default: 0, min: 0, description: 'Show the k channels with the largest mean activation per image; 0: all channels.' }),
    order: opt.choice({
      default: 'activation',
      choices: ['activation', 'channel'] as const,
      description: 'Order of the returned channels: by mean activation (descending) or by channel index.',
    }),
    batchSize: opt.integer({ default: 32, min: 1, max: 4096, description: 'Images per forward pass.' }),
  },
  async explain(x, ctx, o) {
    const tap = ctx.tap;
    const layer = featureLayer(tap, o.layer, 'activation-maps');
    const [n, h, w] = x.shape;
    const k = layer.outputShape[3] as number;
    const ups: tf.Tensor[] = [];
    const raws: tf.Tensor[] = [];
    const channels: number[][] = [];
    const meanActivation: number[][] = [];
    try {
      for (const [s, e] of batchRanges(n, o.batchSize)) {
        ctx.throwIfAborted();
        const xb = tf.slice(x, [s, 0, 0, 0], [e - s, -1, -1, -1]);
        const a = tap.activations(xb, [layer.name])[layer.name] as tf.Tensor4D;
        xb.dispose();
        const means = tf.mean(a, [1, 2]);
        const m = await means.data();
        means.dispose();
        const chosen: number[][] = [];
        for (let i = 0; i < e - s; i++) {
          const row = m.subarray(i * k, (i + 1) * k);
          const sel = selectChannels(row, k, o.topK, o.order);
          chosen.push(sel);
          meanActivation.push(sel.map((c) => row[c] as number));
        }
        channels.push(...chosen);
        const identity = chosen.every((sel) => sel.length === k && sel.every((c, j) => c === j));
        const raw = identity ? a : pickChannels(a, chosen, k);
        if (raw !== a) a.dispose();
        raws.push(raw);
        ups.push(resizeBilinear(raw, [h, w]));
        ctx.progress(e / n);
        await yieldToEventLoop();
      }
      const values = ups.length === 1 ? (ups[0] as tf.Tensor) : tf.concat(ups, 0);
      const layerMap = raws.length === 1 ? (raws[0] as tf.Tensor) : tf.concat(raws, 0);
      const lowest = tf.min(layerMap);
      const signed = ((await lowest.data())[0] as number) < 0;
      lowest.dispose();
      if (values !== ups[0]) tf.dispose(ups);
      if (layerMap !== raws[0]) tf.dispose(raws);
      // Per-image lists (number[][]) are outside Extra's declared union but plain JSON-like data.
      return {
        values,
        signed,
        layer: layer.name,
        extras: { layerMap, channels: channels as unknown as Extra, meanActivation: meanActivation as unknown as Extra },
      };
    } catch (err) {
      tf.dispose([...ups, ...raws]);
      throw err;
    }
  },
});

import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { beforeAll, describe, expect, it } from 'vitest';
import { explain, isCnnXaiError, ModelTap, resizeBilinear, selectBackend } from '@cnn-xai/core';
import { describeExplainer, expectClose, inputFor, tinyNoConv, tinyVgg } from '@cnn-xai/testing';
import { activationMaps, selectChannels } from './index.js';

/** 1x1 conv with 5 linear filters of known gains on a constant image: channel c's maps are gain_c * value. */
const GAINS = [1, 3, -2, 0.5, 3];
function gainModel(): tfl.LayersModel {
  const input = tfl.input({ shape: [4, 4, 1], name: 'image' });
  const conv = tfl.layers.conv2d({ name: 'gains', filters: 5, kernelSize: 1, useBias: false });
  let y = conv.apply(input) as tfl.SymbolicTensor;
  y = tfl.layers.globalAveragePooling2d({ name: 'gap' }).apply(y) as tfl.SymbolicTensor;
  const out = tfl.layers.dense({ name: 'logits', units: 2 }).apply(y) as tfl.SymbolicTensor;
  const model = tfl.model({ inputs: input, outputs: out });
  conv.setWeights([tf.tensor4d(GAINS, [1, 1, 1, 5])]);
  return model;
}

describe('activation-maps', () => {
  beforeAll(async () => {
    await selectBackend('wasm');
  });

  it("equals the tap's activations, upsampled with core's resizeBilinear (all channels, default layer)", async () => {
    const model = tinyVgg();
    const tap = ModelTap.from(model);
    const x = inputFor(model, 3, 2);
    const r = await explain(activationMaps, { model: tap, input: x, options: { order: 'channel', batchSize: 2 } });
    expect(r.layer).toBe('conv3');
    const acts = tap.activations(x, ['conv3'])['conv3'] as tf.Tensor4D;
    const up = resizeBilinear(acts, [16, 16]);
    expect(r.values.shape).toEqual([3, 16, 16, acts.shape[3]]);
    expectClose(r.extras['layerMap'] as tf.Tensor, acts, { atol: 0, rtol: 0, what: 'layer maps' });
    expectClose(r.values, up, { atol: 0, rtol: 0, what: 'upsampled maps' });
    expect(r.extras['channels']).toEqual([0, 1, 2].map(() => Array.from({ length: acts.shape[3] }, (_, i) => i)));
    expect(r.signed).toBe(false); // ReLU layer
    tf.dispose([acts, up, x]);
    r.dispose();
    tap.dispose();
    model.dispose();
  });

  it('top-k picks the channels with the largest mean activation, in descending order (ties: lower index)', async () => {
    const model = gainModel();
    const x = tf.fill([2, 4, 4, 1], 2);
    const r = await explain(activationMaps, { model, input: x, options: { topK: 3 } });
    // Means 2 * [1, 3, -2, 0.5, 3]: order 1, 4 (tie, lower index first), 0.
    expect(r.extras['channels']).toEqual([
      [1, 4, 0],
      [1, 4, 0],
    ]);
    expect(r.extras['meanActivation']).toEqual([
      [6, 6, 2],
      [6, 6, 2],
    ]);
    const v = await r.values.data();
    expect(r.values.shape).toEqual([2, 4, 4, 3]);
    expect(Array.from(v.slice(0, 3))).toEqual([6, 6, 2]);
    expect(r.signed).toBe(false);
    r.dispose();
    const byIndex = await explain(activationMaps, { model, input: x, options: { topK: 3, order: 'channel' } });
    expect(byIndex.extras['channels']).toEqual([
      [0, 1, 4],
      [0, 1, 4],
    ]);
    byIndex.dispose();
    const all = await explain(activationMaps, { model, input: x });
    expect((all.extras['channels'] as unknown as number[][])[0]).toEqual([1, 4, 0, 3, 2]);
    expect(all.signed).toBe(true); // channel 2 is negative
    all.dispose();
    x.dispose();
    model.dispose();
  });

  it('selectChannels handles topK > K and per-image orders', () => {
    expect(selectChannels([0.1, 0.5, 0.2], 3, 10, 'activation')).toEqual([1, 2, 0]);
    expect(selectChannels([0.1, 0.5, 0.2], 3, 0, 'channel')).toEqual([0, 1, 2]);
    expect(selectChannels([0.1, 0.5, 0.2], 3, 2, 'channel')).toEqual([1, 2]);
  });

  it('needs feature maps: NO_CONV_LAYER for a dense layer or a model without conv layers', async () => {
    const model = tinyVgg();
    const x = inputFor(model, 1, 1);
    const err = await explain(activationMaps, { model, input: x, options: { layer: 'logits' } }).catch((e: unknown) => e);
    expect(isCnnXaiError(err, 'NO_CONV_LAYER')).toBe(true);
    const flat = tinyNoConv();
    const y = inputFor(flat, 1, 1);
    const err2 = await explain(activationMaps, { model: flat, input: y }).catch((e: unknown) => e);
    expect(isCnnXaiError(err2, 'NO_CONV_LAYER')).toBe(true);
    tf.dispose([x, y]);
    model.dispose();
    flat.dispose();
  });
});

// The conformance suite's output check accepts 1 or the input's channel count as the last
// dimension of an attribution: one map per image (topK 1) satisfies it on every model.
describeExplainer(activationMaps, { explainOptions: { topK: 1 } });

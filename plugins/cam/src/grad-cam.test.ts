import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { beforeAll, describe, expect, it } from 'vitest';
import { createRegistry, explain, isCnnXaiError, selectBackend } from '@cnn-xai/core';
import { gradCam, register } from './index.js';
import { gapModel } from './test-models.js';

const registry = register(createRegistry());

/** input 2x2x1 -> conv 1x1 (filters k = [1, 2], linear, no bias) -> GAP -> dense(2, no bias). */
function handModel(): tfl.LayersModel {
  const input = tfl.input({ shape: [2, 2, 1] });
  const conv = tfl.layers.conv2d({ filters: 2, kernelSize: 1, useBias: false, name: 'conv' });
  const gap = tfl.layers.globalAveragePooling2d({ name: 'gap' });
  const dense = tfl.layers.dense({ units: 2, useBias: false, name: 'logits' });
  const out = dense.apply(gap.apply(conv.apply(input))) as tfl.SymbolicTensor;
  const model = tfl.model({ inputs: input, outputs: out });
  conv.setWeights([tf.tensor4d([1, 2], [1, 1, 1, 2])]);
  // class 0 weights [1, -1], class 1 weights [0.5, 0.5] (columns are classes)
  dense.setWeights([tf.tensor2d([[1, 0.5], [-1, 0.5]])]);
  return model;
}

describe('grad-cam', () => {
  beforeAll(async () => {
    await selectBackend('wasm');
  });

  it('reproduces a hand-computed map: alpha = mean gradient = w/Z, map = sum_k alpha_k A^k', async () => {
    const model = handModel();
    const x = tf.tensor4d([1, 2, 3, 4], [1, 2, 2, 1]);
    // Class 1: A1 = x, A2 = 2x, alpha = [0.5/4, 0.5/4] -> map = 0.125 x + 0.25 x = 0.375 x.
    const c1 = await explain(gradCam, { model, input: x, target: 1, registry });
    expect(c1.layer).toBe('conv');
    expect(Array.from(await c1.values.data())).toEqual([0.375, 0.75, 1.125, 1.5].map((v) => expect.closeTo(v, 6)));
    c1.dispose();
    // Class 0: alpha = [0.25, -0.25] -> map = -0.25 x: negative everywhere, so ReLU gives 0.
    const raw = await explain(gradCam, { model, input: x, target: 0, options: { relu: false }, registry });
    expect(raw.signed).toBe(true);
    expect(Array.from(await raw.values.data())).toEqual([-0.25, -0.5, -0.75, -1].map((v) => expect.closeTo(v, 6)));
    raw.dispose();
    const rect = await explain(gradCam, { model, input: x, target: 0, registry });
    expect(rect.signed).toBe(false);
    expect(Array.from(await rect.values.data())).toEqual([0, 0, 0, 0]);
    rect.dispose();
    x.dispose();
  });

  it('equals CAM on a GAP + dense head: gradcam * Z = ReLU(sum_k w_k^c A^k), upsampled', async () => {
    const model = gapModel(5);
    const x = tf.randomUniform([3, 12, 12, 3], 0, 1, 'float32', 9) as tf.Tensor4D;
    const targets = [0, 3, 4];
    const res = await explain(gradCam, { model, input: x, target: targets, registry });
    const layerMap = res.extras['layerMap'] as tf.Tensor;
    expect(res.layer).toBe('c2');
    expect(layerMap.shape).toEqual([3, 6, 6]);
    expect(res.values.shape).toEqual([3, 12, 12]);
    // CAM by hand from the dense weights and the c2 activations.
    const acts = tfl.model({ inputs: model.inputs, outputs: model.getLayer('c2').output as tfl.SymbolicTensor }).predict(x) as tf.Tensor4D;
    const w = (model.getLayer('fc').getWeights()[0] as tf.Tensor2D).arraySync();
    const a = acts.arraySync();
    const ours = layerMap.arraySync() as number[][][];
    const Z = 36;
    let maxErr = 0;
    for (let n = 0; n < 3; n++) {
      for (let i = 0; i < 6; i++) {
        for (let j = 0; j < 6; j++) {
          let cam = 0;
          for (let k = 0; k < 8; k++) cam += (w[k]?.[targets[n] as number] as number) * (a[n]?.[i]?.[j]?.[k] as number);
          maxErr = Math.max(maxErr, Math.abs((ours[n]?.[i]?.[j] as number) * Z - Math.max(cam, 0)));
        }
      }
    }
    expect(maxErr).toBeLessThan(1e-4);
    res.dispose();
    tf.dispose([x, acts]);
  });

  it('scales linearly with the head weights of the class (s > 0 scales the map by s)', async () => {
    const model = gapModel(6);
    const x = tf.randomUniform([1, 12, 12, 3], 0, 1, 'float32', 4) as tf.Tensor4D;
    const before = await explain(gradCam, { model, input: x, target: 2, registry });
    const fc = model.getLayer('fc');
    const [k, b] = fc.getWeights() as [tf.Tensor2D, tf.Tensor1D];
    fc.setWeights([tf.mul(k, 3), b]);
    const after = await explain(gradCam, { model, input: x, target: 2, registry });
    const v0 = await before.values.data();
    const v1 = await after.values.data();
    for (let i = 0; i < v0.length; i++) expect(v1[i]).toBeCloseTo(3 * (v0[i] as number), 4);
    before.dispose();
    after.dispose();
    x.dispose();
  });

  it('upsamples with half-pixel centres: the map at input size is the bilinear resize of the layer map', async () => {
    const model = gapModel(7);
    const x = tf.randomUniform([1, 12, 12, 3], 0, 1, 'float32', 2) as tf.Tensor4D;
    const res = await explain(gradCam, { model, input: x, registry });
    const lm = res.extras['layerMap'] as tf.Tensor3D;
    const up = tf.squeeze(tf.image.resizeBilinear(tf.expandDims(lm, -1) as tf.Tensor4D, [12, 12], false, true), [0, 3]);
    const diff = tf.max(tf.abs(tf.sub(up, tf.squeeze(res.values, [0])))).dataSync()[0] as number;
    expect(diff).toBeLessThan(1e-6);
    res.dispose();
    tf.dispose([x, up]);
  });

  it('a layer without feature maps is a typed error naming the layers that have them', async () => {
    const model = gapModel(8);
    const x = tf.zeros([1, 12, 12, 3]);
    await expect(explain(gradCam, { model, input: x, options: { layer: 'gap' }, registry })).rejects.toSatisfy(
      (e: unknown) => isCnnXaiError(e, 'NO_CONV_LAYER') && /c1, p1, c2/.test((e as Error).message),
    );
    await expect(explain(gradCam, { model, input: x, options: { layer: 'nope' }, registry })).rejects.toSatisfy(
      (e: unknown) => isCnnXaiError(e, 'UNKNOWN_LAYER') && /c1, p1, c2, gap, fc/.test((e as Error).message),
    );
    const dense = tfl.sequential({ layers: [tfl.layers.flatten({ inputShape: [12, 12, 3] }), tfl.layers.dense({ units: 2 })] });
    await expect(explain(gradCam, { model: dense, input: x, registry })).rejects.toSatisfy((e: unknown) => isCnnXaiError(e, 'NO_CONV_LAYER'));
    x.dispose();
  });
});

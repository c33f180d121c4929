import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { beforeAll, describe, expect, it } from 'vitest';
import { createRandom, createRegistry, defineExplainer, explain, isCnnXaiError, selectBackend } from '@cnn-xai/core';
import { gradient, gradientXInput } from '@cnn-xai/plugin-gradient';
import { expectNoLeakedTensors } from '@cnn-xai/testing';
import { infidelity, maxSensitivity } from './robustness.js';

/** An exact linear model on 3x3x2 inputs: logits = flatten(x) W + b, 3 classes, seeded weights. */
function linearModel(): tfl.LayersModel {
  const input = tfl.input({ shape: [3, 3, 2] });
  const flat = tfl.layers.flatten().apply(input) as tfl.SymbolicTensor;
  const dense = tfl.layers.dense({ units: 3, name: 'logits' });
  const model = tfl.model({ inputs: input, outputs: dense.apply(flat) as tfl.SymbolicTensor });
  const rnd = createRandom(3);
  const kernel = tf.tensor2d(rnd.normalArray(18 * 3), [18, 3]);
  const bias = tf.tensor1d([0.1, -0.2, 0.3]);
  dense.setWeights([kernel, bias]);
  tf.dispose([kernel, bias]);
  return model;
}

/** An explainer that ignores the model and the input: every map is ones. */
const constant = defineExplainer({
  id: 'constant-map',
  name: 'Constant',
  family: 'test',
  kind: 'gradient',
  description: 'Ones everywhere.',
  requires: { gradients: false },
  options: {},
  async explain(x) {
    return { values: tf.ones([x.shape[0], x.shape[1], x.shape[2]]), signed: false, extras: {} };
  },
});

const registry = createRegistry().register(gradient, gradientXInput, constant);

describe('infidelity (Yeh et al., Captum)', () => {
  let model: tfl.LayersModel;
  let x: tf.Tensor4D;
  beforeAll(async () => {
    await selectBackend('wasm');
    model = linearModel();
    // Positive inputs (Captum's safe_div leaves I undivided where x = 0).
    x = tf.tensor4d(createRandom(5).uniformArray(2 * 18, 0.2, 1), [2, 3, 3, 2]);
  });

  it('is ~0 for an exact linear model explained by gradient × input (and by the plain gradient)', async () => {
    const gxi = await explain(gradientXInput, { model, input: x, target: 1, registry });
    const r = await expectNoLeakedTensors(() => infidelity({ model, input: x, attribution: gxi }));
    expect(r.options['multiplyByInputs']).toBe(true); // auto, from the attribution's explainer id
    expect(r.value).toBeLessThan(1e-9);
    // The same map read as a local attribution (no division by the input) is wrong by far.
    const wrong = await infidelity({ model, input: x, attribution: gxi, options: { multiplyByInputs: 'false' } });
    expect(wrong.value).toBeGreaterThan(1e-6);
    gxi.dispose();
    const g = await explain(gradient, { model, input: x, target: 1, registry });
    const rg = await infidelity({ model, input: x, attribution: g });
    expect(rg.options['multiplyByInputs']).toBe(false);
    expect(rg.value).toBeLessThan(1e-9);
    // A random map of the same scale is far off; normalize (least-squares beta) cannot rescue it.
    const noise = tf.tensor4d(createRandom(9).normalArray(36), [2, 3, 3, 2]);
    const rn = await infidelity({ model, input: x, attribution: noise, target: 1 });
    const rnn = await infidelity({ model, input: x, attribution: noise, target: 1, options: { normalize: true } });
    expect(rn.value).toBeGreaterThan(1e-6);
    expect(rnn.value).toBeGreaterThan(1e-7);
    expect(rnn.value).toBeLessThanOrEqual(rn.value);
    tf.dispose([noise]);
    g.dispose();
  });

  it('is deterministic under a seed and changes with it', async () => {
    const noise = tf.tensor4d(createRandom(9).normalArray(36), [2, 3, 3, 2]);
    const a = await infidelity({ model, input: x, attribution: noise, target: 0, seed: 1, options: { samples: 4 } });
    const b = await infidelity({ model, input: x, attribution: noise, target: 0, seed: 1, options: { samples: 4, batchSize: 3 } });
    const c = await infidelity({ model, input: x, attribution: noise, target: 0, seed: 2, options: { samples: 4 } });
    expect(a.perImage).toEqual(b.perImage);
    expect(c.perImage).not.toEqual(a.perImage);
    noise.dispose();
  });
});

describe('max-sensitivity (Yeh et al., Captum sensitivity_max)', () => {
  let model: tfl.LayersModel;
  let x: tf.Tensor4D;
  beforeAll(async () => {
    await selectBackend('wasm');
    model = linearModel();
    x = tf.tensor4d(createRandom(5).uniformArray(2 * 18, 0.2, 1), [2, 3, 3, 2]);
  });

  it('is 0 for an explainer that returns a constant map', async () => {
    const r = await expectNoLeakedTensors(() => maxSensitivity({ model, input: x, explainer: 'constant-map', registry }));
    expect(r.perImage).toEqual([0, 0]);
    expect(r.options).toMatchObject({ radius: 0.02, samples: 10 });
  });

  it('is 0 for the gradient of a linear model, and ‖w ⊙ δ‖ / ‖w ⊙ x‖ ≤ 0.02 ‖w‖ / ‖w ⊙ x‖ for gradient × input', async () => {
    const g = await maxSensitivity({ model, input: x, explainer: gradient, registry, target: 2 });
    expect(g.value).toBeLessThan(1e-6);
    const gx = await maxSensitivity({ model, input: x, explainer: gradientXInput, registry, target: 2, options: { samples: 5 } });
    const w = tf.tidy(() => tf.slice(model.getWeights()[0] as tf.Tensor2D, [0, 2], [18, 1]).dataSync());
    const xs = x.dataSync();
    for (let i = 0; i < 2; i++) {
      let wn = 0;
      let wxn = 0;
      for (let k = 0; k < 18; k++) {
        wn += (w[k] as number) ** 2;
        wxn += ((w[k] as number) * (xs[i * 18 + k] as number)) ** 2;
      }
      const bound = (0.02 * Math.sqrt(wn)) / Math.sqrt(wxn);
      expect(gx.perImage[i]).toBeGreaterThan(0);
      expect(gx.perImage[i]).toBeLessThanOrEqual(bound + 1e-6);
    }
    const again = await maxSensitivity({ model, input: x, explainer: gradientXInput, registry, target: 2, options: { samples: 5, batchSize: 3 } });
    expect(again.perImage.map((v) => v.toFixed(6))).toEqual(gx.perImage.map((v) => v.toFixed(6)));
  });

  it('rejects a non-tensor input with a typed error', async () => {
    const err = await maxSensitivity({ model, input: [1, 2] as unknown as tf.Tensor, explainer: gradient, registry }).catch((e: unknown) => e);
    expect(isCnnXaiError(err, 'BAD_INPUT_SHAPE')).toBe(true);
  });
});

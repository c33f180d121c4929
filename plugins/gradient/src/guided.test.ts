import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { classScores, createRegistry, explain, ModelTap, selectBackend, type AnyExplainer, type BackwardOverride } from '@cnn-xai/core';
import { countTensors, expectClose, inputFor, maxAbsDiff, tinyMobilenet, tinyResnet, tinyVgg } from '@cnn-xai/testing';
import { deconvnet, deconvReluRule, gradient, guidedBackprop, guidedReluRule, isRelu, register } from './index.js';

const registry = register(createRegistry());

/**
 * flatten(2x2x1) -> dense(3) -> ReLU -> dense(2): one ReLU layer with hand-picked weights, the
 * ReLU written three ways (the dense layer's activation, a ReLU layer, an Activation layer).
 * For x = [1, 2, 0.5, -1] the hidden pre-activations are z = [1, -1, 0.5] (unit 1 is off).
 */
function oneReluModel(how: 'activation' | 'relu-layer' | 'activation-layer'): tfl.LayersModel {
  const input = tfl.input({ shape: [2, 2, 1] });
  let h = tfl.layers.flatten().apply(input) as tfl.SymbolicTensor;
  const hidden = tfl.layers.dense({ units: 3, activation: how === 'activation' ? 'relu' : 'linear', name: 'hidden' });
  h = hidden.apply(h) as tfl.SymbolicTensor;
  if (how === 'relu-layer') h = tfl.layers.reLU({ name: 'relu' }).apply(h) as tfl.SymbolicTensor;
  if (how === 'activation-layer') h = tfl.layers.activation({ activation: 'relu', name: 'relu' }).apply(h) as tfl.SymbolicTensor;
  const logits = tfl.layers.dense({ units: 2, name: 'logits' });
  const out = logits.apply(h) as tfl.SymbolicTensor;
  const model = tfl.model({ inputs: input, outputs: out });
  // Rows are inputs, columns hidden units: z0 = x0, z1 = x1 - 3, z2 = 2 x2 + 0.5 x3.
  hidden.setWeights([tf.tensor2d([[1, 0, 0], [0, 1, 0], [0, 0, 2], [0, 0, 0.5]]), tf.tensor1d([0, -3, 0])]);
  // Class 0 gets dy = [2, 3, -1] at the ReLU, class 1 dy = [-1, 1, 1].
  logits.setWeights([tf.tensor2d([[2, -1], [3, 1], [-1, 1]]), tf.tensor1d([0, 0])]);
  return model;
}

const X = [1, 2, 0.5, -1];
// Per class: plain gradient W1 (1[z > 0] dy); guided W1 (1[z > 0] 1[dy > 0] dy); deconvnet W1 relu(dy).
const EXPECTED: Record<string, [number[], number[]]> = {
  gradient: [[2, 0, -2, -0.5], [-1, 0, 2, 0.5]],
  'guided-backprop': [[2, 0, 0, 0], [0, 0, 2, 0.5]],
  deconvnet: [[2, 3, 0, 0], [0, 1, 2, 0.5]],
};

/** tinyVgg written out with plain tf ops and a ReLU with the given backward rule, as an independent reference. */
function referenceGrad(model: tfl.LayersModel, x: tf.Tensor4D, targets: number[], rule: 'guided' | 'deconv'): tf.Tensor {
  const w = (name: string): tf.Tensor[] => model.getLayer(name).getWeights();
  const relu = tf.customGrad((...args: Array<tf.Tensor | tf.GradSaveFunc>) => {
    const z = args[0] as tf.Tensor;
    (args[1] as tf.GradSaveFunc)([z]);
    return {
      value: tf.relu(z),
      gradFunc: (dy: tf.Tensor, [s]: tf.Tensor[]) =>
        rule === 'deconv' ? tf.relu(dy) : tf.mul(tf.mul(dy, tf.cast(tf.greater(s as tf.Tensor, 0), 'float32')), tf.cast(tf.greater(dy, 0), 'float32')),
    };
  }) as (z: tf.Tensor) => tf.Tensor;
  const conv = (t: tf.Tensor, name: string): tf.Tensor => {
    const [k, b] = w(name) as [tf.Tensor4D, tf.Tensor];
    return relu(tf.add(tf.conv2d(t as tf.Tensor4D, k, 1, 'same'), b));
  };
  return tf.grad((v: tf.Tensor) => {
    let h = conv(conv(v, 'conv1'), 'conv2');
    h = tf.maxPool(h as tf.Tensor4D, 2, 2, 'valid');
    h = tf.mean(conv(h, 'conv3'), [1, 2]);
    const [k, b] = w('logits') as [tf.Tensor2D, tf.Tensor];
    return tf.sum(classScores(tf.add(tf.matMul(h as tf.Tensor2D, k), b), targets));
  })(x);
}

async function values(ex: AnyExplainer, model: tfl.LayersModel | ModelTap, input: tf.Tensor, target: number[], options: Record<string, unknown> = {}): Promise<Float32Array> {
  const r = await explain(ex, { model, input, target, options, registry });
  const v = Float32Array.from(await r.values.data());
  r.dispose();
  return v;
}

describe('guided backprop and deconvnet', () => {
  // The reference runs on cpu, whose max-pool gradient sends a tied window's gradient to its first
  // maximum, as the tap does on every backend (wasm's own kernel does not; the input has ties).
  const VGG_TARGETS = [0, 3];
  const references: Record<string, Float32Array> = {};
  beforeAll(async () => {
    await selectBackend('cpu');
    const model = tinyVgg({ seed: 9 });
    const x = inputFor(model, 2, 3);
    for (const [id, rule] of [['guided-backprop', 'guided'], ['deconvnet', 'deconv']] as const) {
      const ref = referenceGrad(model, x, VGG_TARGETS, rule);
      references[id] = Float32Array.from(ref.dataSync());
      ref.dispose();
    }
    x.dispose();
    model.dispose();
  });

  describe.each(['wasm', 'cpu'] as const)('on %s', (backend) => {
    beforeAll(async () => {
      await selectBackend(backend);
    });

    it.each(['activation', 'relu-layer', 'activation-layer'] as const)('one ReLU (%s): hand-computed gradient, guided and deconvnet maps', async (how) => {
      const model = oneReluModel(how);
      const x = tf.tensor4d([...X, ...X], [2, 2, 2, 1]);
      for (const ex of [gradient, guidedBackprop, deconvnet]) {
        const v = await values(ex, model, x, [0, 1]);
        const [c0, c1] = EXPECTED[ex.id] as [number[], number[]];
        expect(Array.from(v), ex.id).toEqual([...c0, ...c1].map((e) => expect.closeTo(e, 6)));
      }
      x.dispose();
      model.dispose();
    });

    it('guided backprop and deconvnet equal a hand-written customGrad reference on tinyVgg', async () => {
      const model = tinyVgg({ seed: 9 });
      const x = inputFor(model, 2, 3);
      for (const ex of [guidedBackprop, deconvnet]) {
        expectClose(await values(ex, model, x, VGG_TARGETS), references[ex.id] as Float32Array, { rtol: 1e-5, what: `${ex.id} vs reference` });
      }
      x.dispose();
      model.dispose();
    });
  });

  describe('isolation and scope (wasm)', () => {
    let model: tfl.LayersModel;
    let tap: ModelTap;
    let x: tf.Tensor4D;
    beforeAll(async () => {
      await selectBackend('wasm');
      model = tinyVgg({ seed: 4 });
      tap = new ModelTap(model);
      x = inputFor(model, 3, 5);
    });
    afterAll(() => {
      x.dispose();
      tap.dispose();
      model.dispose();
    });

    it('an override does not leak: plain gradients run between, after and around guided/deconvnet calls on one tap are unchanged', async () => {
      const targets = [1, 2, 3];
      const before = countTensors();
      const plain = await values(gradient, tap, x, targets);
      const guided = await values(guidedBackprop, tap, x, targets, { batchSize: 2 });
      const plainAfterGuided = await values(gradient, tap, x, targets);
      const deconv = await values(deconvnet, tap, x, targets, { batchSize: 1 });
      const plainAfterDeconv = await values(gradient, tap, x, targets, { batchSize: 2 });
      const guidedAgain = await values(guidedBackprop, tap, x, targets);
      expectClose(plainAfterGuided, plain, { rtol: 0, atol: 0, what: 'gradient after guided backprop' });
      expectClose(plainAfterDeconv, plain, { rtol: 0, atol: 0, what: 'gradient after deconvnet' });
      expectClose(guidedAgain, guided, { rtol: 0, atol: 0, what: 'guided backprop run twice' });
      expect(maxAbsDiff(guided, plain)).toBeGreaterThan(1e-3);
      expect(maxAbsDiff(deconv, plain)).toBeGreaterThan(1e-3);
      expect(maxAbsDiff(deconv, guided)).toBeGreaterThan(1e-3);
      // The plain gradient of a model the tap does not run is unaffected too (no global registration).
      const g = tf.tidy(() => tf.grad((v: tf.Tensor) => tf.sum(tf.mul(tf.relu(v), -1)))(tf.tensor1d([2])).dataSync()[0]);
      expect(g).toBe(-1);
      expect(countTensors()).toBe(before);
    });

    it('inside one tap call the rule changes the backward pass only: the forward output is bit-identical', async () => {
      const score = (out: tf.Tensor): tf.Tensor1D => classScores(out, [0, 1, 2]);
      const a = tap.gradient(x, score, { overrides: [guidedReluRule] });
      const b = tap.gradient(x, score);
      // The forward pass is untouched by the override; only the backward differs.
      expectClose(a.output, b.output, { rtol: 0, atol: 0, what: 'forward output with and without the override' });
      expect(maxAbsDiff(a.gradient, b.gradient)).toBeGreaterThan(1e-3);
      tf.dispose([a.gradient, a.output, a.scores, b.gradient, b.output, b.scores]);
    });
  });

  it('matches plain ReLU layers (ReLU, Activation) and ReLU activations of conv/dense layers only', async () => {
    await selectBackend('wasm');
    const cases: Array<[tfl.LayersModel, string[]]> = [
      [tinyMobilenet(), ['conv1_relu', 'dw1_relu', 'dw2_relu', 'sep1_relu']],
      [tinyResnet(), ['stem_act', 'block1_act_a', 'block1_out', 'block2_act_a', 'block2_out']],
      [tinyVgg(), ['conv1', 'conv2', 'conv3']],
    ];
    for (const [model, expected] of cases) {
      const tap = new ModelTap(model);
      const x = inputFor(model, 1, 2);
      for (const rule of [guidedReluRule, deconvReluRule]) {
        const seen: string[] = [];
        const counting: BackwardOverride = { match: (op) => (rule.match(op) ? (seen.push(op.layer), true) : false), backward: rule.backward };
        const r = tap.gradient(x, (out) => classScores(out, [0]), { overrides: [counting] });
        tf.dispose([r.gradient, r.output, r.scores]);
        expect(seen, model.name).toEqual(expected);
      }
      x.dispose();
      tap.dispose();
      model.dispose();
    }
    expect(isRelu).toBe(guidedReluRule.match);
  });

  it.each(['tanh', 'softplus'] as const)('on a network without ReLUs (%s) guided backprop and deconvnet equal the gradient', async (activation) => {
    await selectBackend('wasm');
    for (const model of [tinyVgg({ activation }), tinyResnet({ activation })]) {
      const x = inputFor(model, 2, 8);
      const plain = await values(gradient, model, x, [0, 1]);
      expect(await values(guidedBackprop, model, x, [0, 1])).toEqual(plain);
      expect(await values(deconvnet, model, x, [0, 1])).toEqual(plain);
      x.dispose();
      model.dispose();
    }
  });
});

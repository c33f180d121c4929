import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { beforeAll, describe, expect, it } from 'vitest';
import { createRegistry, explain, isCnnXaiError, selectBackend } from '@cnn-xai/core';
import { gradient, gradientXInput, integratedGradients, register } from './index.js';

/** y = W^T flatten(x) + b on a 2x2x1 input, with hand-picked weights. */
function linearModel(): tfl.LayersModel {
  const input = tfl.input({ shape: [2, 2, 1] });
  const flat = tfl.layers.flatten().apply(input) as tfl.SymbolicTensor;
  const dense = tfl.layers.dense({ units: 2, name: 'logits' });
  const out = dense.apply(flat) as tfl.SymbolicTensor;
  const model = tfl.model({ inputs: input, outputs: out });
  // Columns are classes: class 0 weights [1, -2, 3, 0.5], class 1 weights [0, 1, 1, -1].
  dense.setWeights([tf.tensor2d([[1, 0], [-2, 1], [3, 1], [0.5, -1]]), tf.tensor1d([0.25, -0.5])]);
  return model;
}

/** A smooth network (softplus, tanh) where completeness must converge as steps grow. */
function smoothModel(): tfl.LayersModel {
  const m = tfl.sequential();
  m.add(tfl.layers.conv2d({ inputShape: [6, 6, 1], filters: 3, kernelSize: 3, activation: 'softplus', kernelInitializer: tfl.initializers.glorotUniform({ seed: 1 }) }));
  m.add(tfl.layers.conv2d({ filters: 4, kernelSize: 3, activation: 'tanh', kernelInitializer: tfl.initializers.glorotUniform({ seed: 2 }) }));
  m.add(tfl.layers.flatten());
  m.add(tfl.layers.dense({ units: 3, kernelInitializer: tfl.initializers.glorotUniform({ seed: 3 }) }));
  return m;
}

const registry = createRegistry();
register(registry);
const W0 = [1, -2, 3, 0.5];

describe('gradient explainers on hand-computed cases', () => {
  beforeAll(async () => {
    await selectBackend('wasm');
  });

  it('registers its seven explainers', () => {
    expect(registry.list().map((e) => e.id)).toEqual(['gradient', 'gradient-x-input', 'integrated-gradients', 'guided-backprop', 'deconvnet', 'smoothgrad', 'gradient-shap']);
  });

  it('gradient of a linear model is the target class weight vector; abs takes |w|', async () => {
    const model = linearModel();
    const x = tf.tensor4d([0.1, 0.2, 0.3, 0.4], [1, 2, 2, 1]);
    const res = await explain(gradient, { model, input: x, target: 0, registry });
    expect(res.signed).toBe(true);
    expect(Array.from(await res.values.data())).toEqual(W0.map((w) => expect.closeTo(w, 6)));
    res.dispose();
    const abs = await explain(gradient, { model, input: x, target: 0, options: { abs: true }, registry });
    expect(abs.signed).toBe(false);
    expect(Array.from(await abs.values.data())).toEqual(W0.map((w) => expect.closeTo(Math.abs(w), 6)));
    abs.dispose();
    x.dispose();
  });

  it('gradient x input of a linear model is w * x', async () => {
    const model = linearModel();
    const xs = [0.1, 0.2, 0.3, 0.4];
    const x = tf.tensor4d(xs, [1, 2, 2, 1]);
    const res = await explain(gradientXInput, { model, input: x, target: 0, registry });
    expect(Array.from(await res.values.data())).toEqual(W0.map((w, i) => expect.closeTo(w * (xs[i] as number), 6)));
    res.dispose();
    x.dispose();
  });

  it('IG of a linear model is w * (x - baseline) for every rule, even with 2 steps', async () => {
    const model = linearModel();
    const xs = [0.9, -0.3, 0.5, 1];
    const x = tf.tensor4d(xs, [1, 2, 2, 1]);
    for (const rule of integratedGradients.options.rule.choices) {
      const res = await explain(integratedGradients, { model, input: x, target: 0, options: { rule, steps: 2, baseline: 0.5 }, registry });
      expect(Array.from(await res.values.data())).toEqual(W0.map((w, i) => expect.closeTo(w * ((xs[i] as number) - 0.5), 5)));
      expect(Math.abs((res.extras['delta'] as number[])[0] as number)).toBeLessThan(1e-5);
      res.dispose();
    }
    x.dispose();
  });

  it('IG completeness: |sum(IG) - (F(x) - F(x\'))| shrinks as steps grow on a smooth network', async () => {
    const model = smoothModel();
    const x = tf.randomUniform([2, 6, 6, 1], 0, 1, 'float32', 7) as tf.Tensor4D;
    const deltas: number[] = [];
    for (const steps of [2, 8, 64]) {
      const res = await explain(integratedGradients, { model, input: x, target: [0, 2], options: { steps, rule: 'riemann-middle' }, registry });
      const d = res.extras['delta'] as number[];
      deltas.push(Math.max(...d.map(Math.abs)));
      res.dispose();
    }
    expect(deltas[1] as number).toBeLessThan(deltas[0] as number);
    expect(deltas[2] as number).toBeLessThan(deltas[1] as number);
    expect(deltas[2] as number).toBeLessThan(1e-3);
    x.dispose();
  });

  it('IG gives zero to a pixel the model ignores (dummy axiom) and to pixels equal to the baseline', async () => {
    const model = linearModel(); // class 1 ignores pixel 0 (weight 0)
    const x = tf.tensor4d([0.7, 0.2, 0, 0.4], [1, 2, 2, 1]);
    const res = await explain(integratedGradients, { model, input: x, target: 1, options: { steps: 5 }, registry });
    const v = await res.values.data();
    expect(v[0]).toBe(0);
    expect(v[2]).toBe(0); // x = baseline = 0 there
    res.dispose();
    x.dispose();
  });

  it('IG baselines: blur, mean and uniform give finite maps; a bad baseline is a typed error', async () => {
    const model = smoothModel();
    const x = tf.randomUniform([1, 6, 6, 1], 0, 1, 'float32', 3) as tf.Tensor4D;
    for (const baseline of ['blur', 'mean', 'uniform']) {
      const res = await explain(integratedGradients, { model, input: x, options: { baseline, steps: 4 }, registry });
      expect(Array.from(await res.values.data()).every(Number.isFinite)).toBe(true);
      res.dispose();
    }
    await expect(explain(integratedGradients, { model, input: x, options: { baseline: 'snow' }, registry })).rejects.toSatisfy(
      (e: unknown) => isCnnXaiError(e, 'BAD_OPTION_VALUE') && /zeros, blur, uniform, mean/.test((e as Error).message),
    );
    await expect(
      explain(integratedGradients, { model, input: x, options: { rule: 'riemann-trapezoid', steps: 1 }, registry }),
    ).rejects.toSatisfy((e: unknown) => isCnnXaiError(e, 'BAD_OPTION_VALUE'));
    x.dispose();
  });

  it('IG batches path points across images: batchSize does not change the result', async () => {
    const model = smoothModel();
    const x = tf.randomUniform([3, 6, 6, 1], 0, 1, 'float32', 11) as tf.Tensor4D;
    const a = await explain(integratedGradients, { model, input: x, options: { steps: 10, batchSize: 7 }, registry });
    const b = await explain(integratedGradients, { model, input: x, options: { steps: 10, batchSize: 1000 }, registry });
    const va = await a.values.data();
    const vb = await b.values.data();
    let maxDiff = 0;
    for (let i = 0; i < va.length; i++) maxDiff = Math.max(maxDiff, Math.abs((va[i] as number) - (vb[i] as number)));
    expect(maxDiff).toBeLessThan(1e-5);
    a.dispose();
    b.dispose();
    x.dispose();
  });
});

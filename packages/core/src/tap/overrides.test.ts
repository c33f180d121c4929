import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-core/dist/public/chained_ops/register_all_chained_ops';
import type { LayersModel } from '@tensorflow/tfjs-layers';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { countTensors, expectClose, inputFor, maxAbsDiff, tinyResnet, tinyVgg } from '../../../testing/src/index.js';
import { selectBackend } from '../backend.js';
import { classScores } from '../targets.js';
import { ModelTap, type BackwardOverride, type ScoreFn, type TapOp } from './tap.js';

const TARGETS = [0, 3];
const score: ScoreFn = (out) => classScores(out, TARGETS);

/** Guided backprop's ReLU rule: pass dy only where the input was positive and dy is positive. */
const guided: BackwardOverride = {
  match: (op) => op.part === 'activation' && op.activation === 'relu',
  backward: ({ inputs, dy }) => tf.tidy(() => dy.mul(tf.greater(inputs[0] as tf.Tensor, 0).toFloat()).mul(tf.greater(dy, 0).toFloat())),
};

/** tinyVgg written out with plain tf ops and a guided ReLU (tf.customGrad), as an independent reference. */
function guidedReference(model: LayersModel, x: tf.Tensor4D): tf.Tensor {
  const w = (name: string): tf.Tensor[] => model.getLayer(name).getWeights();
  const relu = tf.customGrad((...args: Array<tf.Tensor | tf.GradSaveFunc>) => {
    const z = args[0] as tf.Tensor;
    (args[1] as tf.GradSaveFunc)([z]);
    return {
      value: tf.relu(z),
      gradFunc: (dy: tf.Tensor, [s]: tf.Tensor[]) => dy.mul(tf.greater(s as tf.Tensor, 0).toFloat()).mul(tf.greater(dy, 0).toFloat()),
    };
  }) as (z: tf.Tensor) => tf.Tensor;
  const conv = (t: tf.Tensor, name: string): tf.Tensor => {
    const [k, b] = w(name) as [tf.Tensor4D, tf.Tensor];
    return relu(tf.conv2d(t as tf.Tensor4D, k, 1, 'same').add(b));
  };
  return tf.grad((v: tf.Tensor) => {
    let h = conv(conv(v, 'conv1'), 'conv2');
    h = tf.maxPool(h as tf.Tensor4D, 2, 2, 'valid');
    h = tf.mean(conv(h, 'conv3'), [1, 2]);
    const [k, b] = w('logits') as [tf.Tensor2D, tf.Tensor];
    return tf.sum(classScores(tf.matMul(h as tf.Tensor2D, k).add(b), TARGETS));
  })(x);
}

function gradientOf(tap: ModelTap, x: tf.Tensor, opts: Parameters<ModelTap['gradient']>[2] = {}): tf.Tensor {
  const r = tap.gradient(x, score, opts);
  tf.dispose([r.output, r.scores, ...(r.activation ? [r.activation] : [])]);
  return r.gradient;
}

describe('backward overrides', () => {
  let vgg: LayersModel;
  let resnet: LayersModel;
  let x: tf.Tensor4D;
  let reference: Float32Array;
  beforeAll(async () => {
    await selectBackend('cpu');
    vgg = tinyVgg({ seed: 9 });
    resnet = tinyResnet();
    x = inputFor(vgg, 2, 3);
    const ref = guidedReference(vgg, x);
    reference = Float32Array.from(ref.dataSync());
    ref.dispose();
  });
  afterAll(() => {
    x.dispose();
    vgg.dispose();
    resnet.dispose();
  });

  it.each(['cpu', 'wasm'] as const)('a guided-backprop ReLU rule gives the guided gradient, and the next plain call is unaffected (%s)', async (backend) => {
    await selectBackend(backend);
    const tap = new ModelTap(vgg);
    const before = countTensors();
    const plainBefore = gradientOf(tap, x);
    const matched: TapOp[] = [];
    const counting: BackwardOverride = { match: (op) => (guided.match(op) ? (matched.push(op), true) : false), backward: guided.backward };
    const guidedGrad = gradientOf(tap, x, { overrides: [counting] });
    const plainAfter = gradientOf(tap, x);
    expect(matched.map((op) => op.layer)).toEqual(['conv1', 'conv2', 'conv3']);
    expect(matched.every((op) => op.className === 'Conv2D' && op.source.name === op.layer)).toBe(true);
    expectClose(guidedGrad, reference, { rtol: 1e-5, what: 'guided vs hand-written reference' });
    expect(maxAbsDiff(guidedGrad, plainBefore)).toBeGreaterThan(1e-3);
    expectClose(plainAfter, plainBefore, { rtol: 0, atol: 0, what: 'plain gradient after the override' });
    // Global gradient registrations are untouched: tf.grad of relu still passes negative dy.
    const g = tf.grad((v: tf.Tensor) => tf.sum(tf.mul(tf.relu(v), -1)))(tf.tensor1d([2]));
    expect(g.dataSync()[0]).toBe(-1);
    tf.dispose([plainBefore, guidedGrad, plainAfter, g]);
    expect(countTensors()).toBe(before + 1); // the tensor1d fed to tf.grad above
    tap.dispose();
  });

  it('an override leaves the forward pass unchanged and one matching nothing changes nothing', async () => {
    await selectBackend('wasm');
    const tap = new ModelTap(vgg);
    const out = tap.forward(x, { overrides: [guided] }).output;
    expectClose(out, tap.predict(x), { rtol: 0, atol: 0 });
    const none: BackwardOverride = { match: () => false, backward: () => tf.scalar(0) };
    expectClose(gradientOf(tap, x, { overrides: [none] }), gradientOf(tap, x), { rtol: 0, atol: 0 });
  });

  it("a rule on a layer's linear part (part: 'layer') replaces that part's backward only", async () => {
    await selectBackend('wasm');
    const tap = new ModelTap(vgg);
    const zeroConv1: BackwardOverride = {
      match: (op) => op.layer === 'conv1' && op.part === 'layer',
      backward: ({ inputs }) => tf.zerosLike(inputs[0] as tf.Tensor),
    };
    const g = gradientOf(tap, x, { overrides: [zeroConv1] });
    expect(maxAbsDiff(g, tf.zerosLike(g))).toBe(0);
    // The layer gradient at conv1's output does not pass through conv1's backward.
    const at = gradientOf(tap, x, { layer: 'conv1', overrides: [zeroConv1] });
    expectClose(at, gradientOf(tap, x, { layer: 'conv1' }), { rtol: 0, atol: 0 });
    expect(maxAbsDiff(at, tf.zerosLike(at))).toBeGreaterThan(0);
  });

  it('a rule on a two-input op (Add) returns one gradient per input', async () => {
    await selectBackend('wasm');
    const tap = new ModelTap(resnet);
    const xr = inputFor(resnet, 2, 4);
    // block2_add = add([shortcut, residual]): send everything through the shortcut.
    const shortcutOnly: BackwardOverride = {
      match: (op) => op.layer === 'block2_add',
      backward: ({ inputs, dy }) => {
        expect(inputs).toHaveLength(2);
        return [dy.clone(), tf.zerosLike(dy)];
      },
    };
    const residual = gradientOf(tap, xr, { layer: 'block2_bn_b', overrides: [shortcutOnly] });
    expect(maxAbsDiff(residual, tf.zerosLike(residual))).toBe(0);
    const shortcut = gradientOf(tap, xr, { layer: 'block2_proj_bn', overrides: [shortcutOnly] });
    expectClose(shortcut, gradientOf(tap, xr, { layer: 'block2_proj_bn' }), { rtol: 0, atol: 0 });
    expect(maxAbsDiff(shortcut, tf.zerosLike(shortcut))).toBeGreaterThan(0);
  });

  it('overrides apply in runFrom/head runs under tf.grad too', async () => {
    await selectBackend('wasm');
    const tap = new ModelTap(vgg);
    const a = tap.activations(x, ['pool1'])['pool1'] as tf.Tensor;
    const head = tap.head('pool1');
    const plain = tf.grad((v: tf.Tensor) => tf.sum(score(head.run(v))))(a);
    const withRule = tf.grad((v: tf.Tensor) => tf.sum(score(head.run(v, [guided]))))(a);
    expectClose(plain, gradientOf(tap, x, { layer: 'pool1' }), { rtol: 1e-6 });
    expectClose(withRule, gradientOf(tap, x, { layer: 'pool1', overrides: [guided] }), { rtol: 1e-6 });
    expect(maxAbsDiff(plain, withRule)).toBeGreaterThan(1e-4);
    head.dispose();
  });
});

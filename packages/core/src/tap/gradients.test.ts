import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-core/dist/public/chained_ops/register_all_chained_ops';
import type { LayersModel } from '@tensorflow/tfjs-layers';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  countTensors,
  expectClose,
  inputFor,
  linearModel,
  TEST_MODELS,
  type TestModelName,
  tinyBranchy,
  tinyMobilenet,
  tinyNested,
  tinyResnet,
  tinyVgg,
} from '../../../testing/src/index.js';
import { selectBackend } from '../backend.js';
import { CnnXaiError } from '../errors.js';
import { createRandom } from '../random.js';
import { classScores } from '../targets.js';
import { ModelTap, type ScoreFn } from './tap.js';

const TARGETS = [1, 2];
const score: ScoreFn = (out) => classScores(out, TARGETS);

/**
 * Finite differences of the target score at `count` random coordinates of v (a batch whose
 * image i is explained for class TARGETS[i]). The perturbed points and the unperturbed images
 * run as one batch through `f(batch, imageOfRow)`. Returns the coordinates, the central
 * estimates, and the forward and backward one-sided ones.
 */
function finiteDifferences(
  v: tf.Tensor,
  f: (batch: tf.Tensor, imageOfRow: number[]) => tf.Tensor,
  count: number,
  eps: number,
  seed: number,
): { index: number[]; estimate: number[]; forward: number[]; backward: number[] } {
  const rnd = createRandom(seed);
  const n = v.shape[0] as number;
  const per = v.size / n;
  const base = v.dataSync();
  const index = Array.from({ length: count }, () => rnd.int(v.size));
  const data = new Float32Array((2 * count + n) * per);
  const imageOfRow: number[] = [];
  index.forEach((j, k) => {
    const img = Math.floor(j / per);
    [1, -1].forEach((sign, s) => {
      const row = 2 * k + s;
      data.set(base.subarray(img * per, (img + 1) * per), row * per);
      data[row * per + (j - img * per)] = (base[j] as number) + sign * eps;
      imageOfRow.push(img);
    });
  });
  data.set(base, 2 * count * per);
  for (let i = 0; i < n; i++) imageOfRow.push(i);
  const scores = tf.tidy(() => {
    const out = f(tf.tensor(data, [2 * count + n, ...v.shape.slice(1)]), imageOfRow);
    return classScores(out, imageOfRow.map((i) => TARGETS[i] as number)).dataSync();
  });
  const at = (r: number): number => scores[r] as number;
  const s0 = (j: number): number => at(2 * count + Math.floor(j / per));
  return {
    index,
    estimate: index.map((_, k) => (at(2 * k) - at(2 * k + 1)) / (2 * eps)),
    forward: index.map((j, k) => (at(2 * k) - s0(j)) / eps),
    backward: index.map((j, k) => (s0(j) - at(2 * k + 1)) / eps),
  };
}

function expectGradientMatches(gradient: tf.Tensor, index: number[], estimate: number[], rtol: number, what: string): void {
  const g = gradient.dataSync();
  const scale = Math.max(...Array.from(g, Math.abs));
  expect(scale, `${what}: the gradient is all zero`).toBeGreaterThan(1e-4);
  index.forEach((j, k) => {
    const want = estimate[k] as number;
    const got = g[j] as number;
    expect(Math.abs(got - want), `${what}: d/dv[${j}] = ${got}, finite differences ${want}`).toBeLessThanOrEqual(rtol * scale + 1e-4);
  });
}

describe.each(['wasm', 'cpu'] as const)('gradients equal finite differences on %s', (backend) => {
  beforeAll(async () => {
    await selectBackend(backend);
  });

  // [name, model, eps]: the nested model max-pools, so a smaller step keeps each window's maximum.
  const smoothModels: Array<[string, () => LayersModel, number]> = [
    ['resnet (tanh)', () => tinyResnet({ activation: 'tanh', seed: 12 }), 1e-2],
    ['mobilenet (softplus)', () => tinyMobilenet({ activation: 'softplus', seed: 13 }), 1e-2],
    ['branchy (tanh)', () => tinyBranchy({ activation: 'tanh', seed: 14 }), 1e-2],
    ['nested (tanh, max pool)', () => tinyNested({ activation: 'tanh', seed: 15 }), 2e-3],
  ];

  it.each(smoothModels)('input gradient: %s', (name, create, eps) => {
    const model = create();
    const tap = new ModelTap(model);
    const x = inputFor(model, 2, 5, { flat: false });
    const before = countTensors();
    const { gradient, output, scores, activation } = tap.gradient(x, score);
    expect(activation).toBeNull();
    expect(gradient.shape).toEqual(x.shape);
    tf.tidy(() => {
      expectClose(output, tap.predict(x), { rtol: 1e-6 });
      expectClose(scores, classScores(output, TARGETS), { rtol: 1e-6 });
    });
    const { index, estimate } = finiteDifferences(x, (b) => tap.predict(b), 24, eps, 77);
    expectGradientMatches(gradient, index, estimate, 1e-2, `${name} on ${backend}`);
    tf.dispose([gradient, output, scores]);
    expect(countTensors()).toBe(before);
    tap.dispose();
    x.dispose();
    model.dispose();
  });

  it('input gradient of a ReLU network where it is linear (tinyVgg: ReLU and max pool)', () => {
    const model = tinyVgg({ seed: 16 });
    const tap = new ModelTap(model);
    const x = inputFor(model, 2, 6, { flat: false });
    const { gradient } = tap.gradient(x, score);
    // The network is piecewise linear: where the forward and backward one-sided differences
    // agree, no ReLU or max-pool switch lies within eps, and the central difference is exact
    // (up to float32 rounding).
    const fd = finiteDifferences(x, (b) => tap.predict(b), 32, 1e-3, 78);
    const scale = Math.max(...Array.from(gradient.dataSync(), Math.abs));
    // float32 rounding alone moves a one-sided difference by ~2e-5 at this step.
    const keep = fd.index.map((_, k) => Math.abs((fd.forward[k] as number) - (fd.backward[k] as number)) <= 2e-3 * scale);
    expect(keep.filter(Boolean).length, 'too few coordinates in a linear region').toBeGreaterThanOrEqual(12);
    expectGradientMatches(
      gradient,
      fd.index.filter((_, k) => keep[k]),
      fd.estimate.filter((_, k) => keep[k]),
      1e-2,
      `tinyVgg on ${backend}`,
    );
    tf.dispose([gradient, x]);
    tap.dispose();
    model.dispose();
  });

  it('layer gradients inside a residual block (needs the skip as context) and in a nested model', () => {
    // [model, layer, eps]: conv_a feeds a max pool, so its step is small.
    const cases: Array<[LayersModel, string, number]> = [
      [tinyResnet({ activation: 'tanh', seed: 12 }), 'block1_bn_b', 1e-2],
      [tinyResnet({ activation: 'tanh', seed: 12 }), 'block2_act_a', 1e-2],
      [tinyNested({ activation: 'tanh', seed: 15 }), 'features/conv_a', 1e-3],
      [tinyNested({ activation: 'tanh', seed: 15 }), 'features/pool_a', 1e-2],
    ];
    for (const [model, layer, eps] of cases) {
      const tap = new ModelTap(model);
      const x = inputFor(model, 2, 9, { flat: false });
      const before = countTensors();
      const r = tap.gradient(x, score, { layer });
      const a = r.activation as tf.Tensor;
      expect(a.shape).toEqual(r.gradient.shape);
      const direct = tap.activations(x, [layer])[layer] as tf.Tensor;
      expectClose(a, direct, { rtol: 1e-6 });
      direct.dispose();
      // Each perturbed row gets its own image's input as context (skip connections).
      const fd = finiteDifferences(a, (batch, rows) => tap.runFrom(layer, batch, { context: tf.gather(x, rows) }), 16, eps, 79);
      expectGradientMatches(r.gradient, fd.index, fd.estimate, 1e-2, `${model.name}/${layer} on ${backend}`);
      tf.dispose([r.gradient, r.activation as tf.Tensor, r.output, r.scores]);
      expect(countTensors()).toBe(before);
      tap.dispose();
      x.dispose();
      model.dispose();
    }
  });
});

describe('tap gradients equal tf.grad through the tfjs-layers model (cpu)', () => {
  beforeAll(async () => {
    await selectBackend('cpu');
  });

  it.each(Object.keys(TEST_MODELS) as TestModelName[])('%s', (name) => {
    const model = TEST_MODELS[name]();
    // The softmax model: compare in output mode 'model' (tfjs-layers runs the softmax too).
    const tap = new ModelTap(model, { output: 'model' });
    const x = inputFor(model, 2, 13);
    const ours = tap.gradient(x, score);
    const theirs = tf.grad((v: tf.Tensor) => tf.sum(score(model.apply(v, { training: false }) as tf.Tensor)))(x);
    expect(tf.tidy(() => tf.max(tf.abs(theirs)).dataSync()[0])).toBeGreaterThan(0);
    expectClose(ours.gradient, theirs, { rtol: 1e-4, atol: 1e-7, what: name });
    tf.dispose([ours.gradient, ours.output, ours.scores, theirs, x]);
    tap.dispose();
    model.dispose();
  });
});

describe('layer gradients, runFrom and head', () => {
  let resnet: LayersModel;
  let nested: LayersModel;
  let vgg: LayersModel;
  beforeAll(async () => {
    await selectBackend('wasm');
    resnet = tinyResnet();
    nested = tinyNested();
    vgg = tinyVgg();
  });
  afterAll(() => [resnet, nested, vgg].forEach((m) => m.dispose()));

  it('chain rule: the gradient at an Add equals the gradient at each of its inputs', () => {
    const tap = new ModelTap(resnet);
    const x = inputFor(resnet, 2, 1);
    const at = (layer: string): tf.Tensor => {
      const r = tap.gradient(x, score, { layer });
      tf.dispose([r.output, r.scores, r.activation as tf.Tensor]);
      return r.gradient;
    };
    const add = at('block2_add');
    expectClose(at('block2_bn_b'), add, { rtol: 1e-6, what: 'residual branch' });
    expectClose(at('block2_proj_bn'), add, { rtol: 1e-6, what: 'shortcut' });
    // Nested: the sub-model's output is its last layer's output.
    const ntap = new ModelTap(nested);
    const nx = inputFor(nested, 2, 2);
    const g1 = ntap.gradient(nx, score, { layer: 'features' }).gradient;
    const g2 = ntap.gradient(nx, score, { layer: 'features/conv_b' }).gradient;
    expectClose(g1, g2, { rtol: 1e-6 });
    expect(tf.tidy(() => tf.max(tf.abs(g1)).dataSync()[0])).toBeGreaterThan(0);
  });

  it('gradient at the last layer before a dense head is the dense weight column / (H*W) for GAP models', () => {
    const tap = new ModelTap(vgg);
    const x = inputFor(vgg, 2, 3);
    const r = tap.gradient(x, score, { layer: 'conv3' });
    const [, h, w, c] = r.gradient.shape as number[];
    const kernel = vgg.getLayer('logits').getWeights()[0] as tf.Tensor2D; // [C, K]
    const want = tf.tidy(() => {
      const cols = tf.gather(kernel, TARGETS, 1).transpose() as tf.Tensor2D; // [N, C]
      return cols.reshape([2, 1, 1, c as number]).tile([1, h as number, w as number, 1]).div((h as number) * (w as number));
    });
    expectClose(r.gradient, want, { rtol: 1e-5 });
  });

  it('runFrom(layer, activation, {context}) reproduces the full output', () => {
    const cases: Array<[LayersModel, string[]]> = [
      [resnet, ['stem_act', 'block1_conv_a', 'block1_bn_b', 'block1_out', 'block2_proj', 'block2_conv_b', 'gap', 'logits']],
      [nested, ['image', 'features/conv_a', 'features/pool_a', 'features', 'head_conv']],
      [vgg, ['conv1', 'pool1', 'gap']],
    ];
    for (const [model, layers] of cases) {
      const tap = new ModelTap(model);
      const x = inputFor(model, 2, 4);
      const full = tap.predict(x);
      const acts = tap.activations(x, layers);
      for (const layer of layers) {
        const before = countTensors();
        const out = tap.runFrom(layer, acts[layer] as tf.Tensor, { context: x });
        expectClose(out, full, { rtol: 1e-5, what: `${model.name} from ${layer}` });
        out.dispose();
        expect(countTensors(), `runFrom ${layer} leaks`).toBe(before);
      }
      tf.dispose([full, x, ...Object.values(acts)]);
    }
  });

  it('runFrom and gradient at the output layer hand back tensors of their own', () => {
    const tap = new ModelTap(vgg);
    const x = inputFor(vgg, 2, 4);
    const a = tap.activations(x, ['logits'])['logits'] as tf.Tensor;
    const before = countTensors();
    const out = tap.runFrom('logits', a);
    expect(out).not.toBe(a);
    out.dispose();
    expect(a.isDisposed).toBe(false);
    const r = tap.gradient(x, score, { layer: 'logits' });
    expect(r.activation?.isDisposed).toBe(false);
    expect(r.output.isDisposed).toBe(false);
    r.output.dispose();
    expectClose(r.activation as tf.Tensor, a, { rtol: 0, atol: 0 });
    // d(logit_t)/d(logits) is one-hot at the target.
    const oneHot = tf.tidy(() => tf.oneHot(tf.tensor1d(TARGETS, 'int32'), 4).toFloat());
    expectClose(r.gradient, oneHot, { rtol: 0, atol: 0 });
    tf.dispose([r.gradient, r.activation as tf.Tensor, r.scores, oneHot]);
    expect(countTensors()).toBe(before);
    a.dispose();
    x.dispose();
  });

  it('runFrom changes with the activation (it really starts at the layer)', () => {
    const tap = new ModelTap(resnet);
    const x = inputFor(resnet, 1, 4);
    const a = tap.activations(x, ['block1_bn_b'])['block1_bn_b'] as tf.Tensor;
    const out = tap.runFrom('block1_bn_b', a, { context: x });
    const zeroed = tap.runFrom('block1_bn_b', tf.zerosLike(a), { context: x });
    expect(tf.tidy(() => tf.max(tf.abs(tf.sub(out, zeroed))).dataSync()[0])).toBeGreaterThan(1e-3);
    // With a zero residual branch, block1_add is just the skip input (stem_act).
    const skipOnly = tap.runFrom('block1_add', tap.activations(x, ['stem_act'])['stem_act'] as tf.Tensor, { context: x });
    expectClose(zeroed, skipOnly, { rtol: 1e-6 });
  });

  it('headNeedsContext is true exactly when a skip connection goes around the layer', () => {
    const tap = new ModelTap(resnet);
    const needs = Object.fromEntries(tap.layerNames().map((n) => [n, tap.headNeedsContext(n)]));
    expect(needs).toMatchObject({
      image: false,
      stem_act: false,
      block1_conv_a: true,
      block1_bn_b: true,
      block1_add: false,
      block1_out: false,
      block2_proj: true,
      block2_conv_a: true,
      block2_add: false,
      gap: false,
    });
    const x = inputFor(resnet, 1);
    const a = tap.activations(x, ['block1_conv_a'])['block1_conv_a'] as tf.Tensor;
    const before = countTensors();
    let error: unknown;
    try {
      tap.runFrom('block1_conv_a', a);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(CnnXaiError);
    expect((error as CnnXaiError).code).toBe('BAD_INPUT_SHAPE');
    expect((error as CnnXaiError).message).toMatch(/skip connection/);
    expect(countTensors()).toBe(before);
    // No context needed where no skip goes around.
    const b = tap.activations(x, ['block1_out'])['block1_out'] as tf.Tensor;
    expectClose(tap.runFrom('block1_out', b), tap.predict(x), { rtol: 1e-5 });
  });

  it('head(layer, context of batch 1) broadcasts over an activation batch of 3', () => {
    const tap = new ModelTap(resnet);
    const x = inputFor(resnet, 1, 5);
    const layer = 'block1_bn_b';
    const a = tap.activations(x, [layer])[layer] as tf.Tensor;
    const scales = [1, 0.5, -2];
    const batch = tf.concat(scales.map((s) => a.mul(s)));
    const before = countTensors();
    const head = tap.head(layer, x);
    const out = head.run(batch);
    expect(out.shape).toEqual([3, 5]);
    tf.tidy(() => {
      expectClose(out.slice(0, 1), tap.predict(x), { rtol: 1e-5, what: 'row 0 (unscaled)' });
      scales.forEach((s, i) => {
        const single = tap.runFrom(layer, a.mul(s), { context: x });
        expectClose(out.slice(i, 1), single, { rtol: 1e-5, what: `row ${i}` });
      });
    });
    // Rows differ: the activation, not the context, drives them.
    expect(tf.tidy(() => tf.max(tf.abs(tf.sub(out.slice(0, 1), out.slice(2, 1)))).dataSync()[0])).toBeGreaterThan(1e-3);
    // A second run reuses the context.
    const again = head.run(batch);
    expectClose(again, out, { rtol: 0, atol: 0 });
    tf.dispose([out, again]);
    head.dispose();
    expect(countTensors()).toBe(before);
    // A context batch that is neither 1 nor the activation batch is an error.
    const x2 = inputFor(resnet, 2, 6);
    const head2 = tap.head(layer, x2);
    expect(() => head2.run(batch)).toThrow(/Context batch 2 does not match activation batch 3/);
    head2.dispose();
  });

  it('gradient at the input of a linear model is the weight column (exact)', () => {
    const model = linearModel();
    const tap = new ModelTap(model);
    const x = inputFor(model, 2, 7);
    const { gradient } = tap.gradient(x, score);
    const kernel = model.getLayer('logits').getWeights()[0] as tf.Tensor2D; // [16, 3]
    const want = tf.gather(kernel, TARGETS, 1).transpose().reshape(x.shape);
    expectClose(gradient, want, { rtol: 1e-6 });
    model.dispose();
  });
});

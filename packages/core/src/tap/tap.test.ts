import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-core/dist/public/chained_ops/register_all_chained_ops';
import * as tfl from '@tensorflow/tfjs-layers';
import type { LayersModel, SymbolicTensor } from '@tensorflow/tfjs-layers';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
// @cnn-xai/testing depends on core, so core's tests import it by path (no dependency cycle).
import {
  countTensors,
  expectClose,
  inputFor,
  seedWeights,
  TEST_MODELS,
  tinyMobilenet,
  tinyNested,
  type TestModelName,
} from '../../../testing/src/index.js';
import { selectBackend } from '../backend.js';
import { CnnXaiError } from '../errors.js';
import { ModelTap } from './tap.js';

function codeOf(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(CnnXaiError);
    return (e as CnnXaiError).code;
  }
  return undefined;
}

/** Layers the forward-activation test compares with a tf.js sub-model, per model. */
const PROBES: Record<TestModelName, string[]> = {
  tinyVgg: ['conv2', 'pool1', 'gap'],
  tinyResnet: ['stem_bn', 'block1_add', 'block2_proj_bn', 'block2_out'],
  tinyMobilenet: ['dw1_relu', 'dw2', 'sep1'],
  tinyBranchy: ['pad_b2', 'branch_b', 'concat', 'avg_pool', 'flatten', 'dropout'],
  tinyNested: ['features', 'head_conv'],
  linearModel: ['flatten'],
  tinyNoConv: ['hidden'],
};

/** A model with layers the tap has no kernel for (LeakyReLU, capped ReLU) and other activations. */
function miscModel(): LayersModel {
  const model = tfl.sequential({
    name: 'misc',
    layers: [
      tfl.layers.conv2d({ name: 'c1', inputShape: [9, 9, 2], filters: 3, kernelSize: 3, padding: 'same', activation: 'elu' }),
      tfl.layers.leakyReLU({ name: 'leaky', alpha: 0.2 }),
      tfl.layers.conv2d({ name: 'c2', filters: 3, kernelSize: 3, padding: 'same', dilationRate: 2, activation: 'selu' }),
      tfl.layers.reLU({ name: 'capped', maxValue: 0.5 }),
      tfl.layers.maxPooling2d({ name: 'pool', poolSize: 3, strides: 2, padding: 'same' }),
      tfl.layers.conv2d({ name: 'c3', filters: 4, kernelSize: 2, strides: 2, padding: 'same', activation: 'sigmoid' }),
      tfl.layers.globalMaxPooling2d({ name: 'gmp' }),
      tfl.layers.dense({ name: 'out', units: 3, activation: 'softsign' }),
    ],
  });
  return seedWeights(model, 31);
}

describe.each(['cpu', 'wasm'] as const)('ModelTap forward on %s', (backend) => {
  const models = new Map<string, LayersModel>();
  beforeAll(async () => {
    await selectBackend(backend);
    for (const [name, create] of Object.entries(TEST_MODELS)) models.set(name, create());
    models.set('misc', miscModel());
  });
  afterAll(() => models.forEach((m) => m.dispose()));

  it.each([...Object.keys(TEST_MODELS), 'misc'])('tap.predict equals model.predict: %s', (name) => {
    const model = models.get(name) as LayersModel;
    const x = inputFor(model, 2, 3);
    const tap = new ModelTap(model, { output: 'model' });
    const before = countTensors();
    const ours = tap.predict(x);
    const theirs = model.predict(x) as tf.Tensor;
    expectClose(ours, theirs, { rtol: 1e-5, atol: 1e-6, what: `${name} on ${backend}` });
    // Not constant across the batch (a tap that ignored the input would pass otherwise).
    const spread = tf.tidy(() => tf.max(tf.abs(tf.sub(ours.slice(0, 1), ours.slice(1, 1)))).dataSync()[0]);
    expect(spread).toBeGreaterThan(1e-4);
    tf.dispose([ours, theirs]);
    expect(countTensors()).toBe(before);
    tap.dispose();
    x.dispose();
  });

  it('logits mode leaves out the final softmax (tinyMobilenet)', () => {
    const model = models.get('tinyMobilenet') as LayersModel;
    const x = inputFor(model, 3, 5);
    const logitsTap = new ModelTap(model);
    const modelTap = new ModelTap(model, { output: 'model' });
    expect(logitsTap.softmaxStripped).toBe(true);
    expect(modelTap.softmaxStripped).toBe(false);
    const logits = logitsTap.predict(x);
    const probs = model.predict(x) as tf.Tensor;
    // Logits are not probabilities (rows do not sum to 1), but their softmax is the model's output.
    const rowSums = Array.from(logits.sum(1).dataSync());
    expect(rowSums.some((s) => Math.abs(s - 1) > 1e-3)).toBe(true);
    expectClose(tf.softmax(logits), probs, { rtol: 1e-5, atol: 1e-6 });
    expectClose(modelTap.predict(x), probs, { rtol: 1e-5, atol: 1e-6 });
    // A model without a softmax head gives the same output in both modes.
    const vgg = models.get('tinyVgg') as LayersModel;
    const xv = inputFor(vgg, 1, 1);
    expect(new ModelTap(vgg).softmaxStripped).toBe(false);
    expectClose(new ModelTap(vgg).predict(xv), vgg.predict(xv) as tf.Tensor, { rtol: 1e-6 });
  });

  it.each(Object.keys(PROBES))('activations equal a tf.js sub-model: %s', (name) => {
    const model = models.get(name) as LayersModel;
    const x = inputFor(model, 2, 8);
    const tap = new ModelTap(model);
    const fetch = PROBES[name as TestModelName];
    const { output, activations } = tap.forward(x, { fetch });
    expect(Object.keys(activations)).toEqual(fetch);
    for (const layerName of fetch) {
      const layer = model.getLayer(layerName);
      // A nested model has a node of its own besides its call in the outer model: take the last.
      const symbolic = layer.getOutputAt(layer.inboundNodes.length - 1) as SymbolicTensor;
      const sub = tfl.model({ inputs: model.inputs, outputs: symbolic });
      const want = sub.predict(x) as tf.Tensor;
      expectClose(activations[layerName] as tf.Tensor, want, { rtol: 1e-5, atol: 1e-6, what: `${name}/${layerName}` });
      expect(tap.layer(layerName).outputShape).toEqual(symbolic.shape);
      want.dispose();
    }
    const out = tap.activations(x, ['conv1_input', 'image', 'flatten_input'].filter((n) => tap.layerNames().includes(n)));
    // Fetching the input returns a copy of it.
    for (const t of Object.values(out)) {
      expectClose(t, x, { rtol: 0, atol: 0 });
      expect(t).not.toBe(x);
    }
    tf.dispose([output, x, ...Object.values(activations), ...Object.values(out)]);
    tap.dispose();
  });

  it('activations inside a nested model equal the sub-model run on its own', () => {
    const model = models.get('tinyNested') as LayersModel;
    const features = model.getLayer('features') as unknown as LayersModel;
    const x = inputFor(model, 2, 9);
    const tap = new ModelTap(model);
    const acts = tap.activations(x, ['features/conv_a', 'features/pool_a', 'features/conv_b', 'features']);
    for (const inner of ['conv_a', 'pool_a', 'conv_b']) {
      const sub = tfl.model({ inputs: features.inputs, outputs: features.getLayer(inner).output as SymbolicTensor });
      expectClose(acts[`features/${inner}`] as tf.Tensor, sub.predict(x) as tf.Tensor, { rtol: 1e-5, atol: 1e-6, what: inner });
    }
    expectClose(acts['features'] as tf.Tensor, acts['features/conv_b'] as tf.Tensor, { rtol: 0, atol: 0 });
    tf.dispose([x, ...Object.values(acts)]);
  });
});

describe('ModelTap structure and errors', () => {
  const models = new Map<string, LayersModel>();
  beforeAll(async () => {
    await selectBackend('wasm');
    for (const [name, create] of Object.entries(TEST_MODELS)) models.set(name, create());
  });
  afterAll(() => models.forEach((m) => m.dispose()));
  const get = (name: TestModelName): LayersModel => models.get(name) as LayersModel;

  it('lists layers in execution order, the input first, nested layers as outer/inner', () => {
    expect(new ModelTap(get('tinyVgg')).layerNames()).toEqual(['conv1_input', 'conv1', 'conv2', 'pool1', 'conv3', 'gap', 'logits']);
    expect(new ModelTap(get('tinyNested')).layerNames()).toEqual([
      'image',
      'features/conv_a',
      'features/pool_a',
      'features/conv_b',
      'features',
      'head_conv',
      'gap',
      'logits',
    ]);
    const resnet = new ModelTap(get('tinyResnet'));
    const names = resnet.layerNames();
    expect(names[0]).toBe('image');
    expect(names).toHaveLength(get('tinyResnet').layers.length);
    // Every layer comes after the layers it reads.
    for (const layer of get('tinyResnet').layers) {
      for (const node of layer.inboundNodes) {
        for (const inbound of node.inboundLayers) expect(names.indexOf(inbound.name)).toBeLessThan(names.indexOf(layer.name));
      }
    }
    const info = resnet.layer('block2_add');
    expect(info).toMatchObject({ name: 'block2_add', className: 'Add', outputShape: [null, 6, 6, 8], generic: false });
    expect(resnet.layers[info.index]).toBe(info);
    expect(resnet.layer('stem_conv').activation).toBe('linear');
    expect(new ModelTap(get('tinyVgg')).layer('conv1').activation).toBe('relu');
  });

  it('records graph edges: inbound layers per layer and outbound readers (adds, projections, nested models)', () => {
    const resnet = new ModelTap(get('tinyResnet'));
    expect(resnet.layer('image').inbound).toEqual([]);
    expect(resnet.layer('stem_bn').inbound).toEqual(['stem_conv']);
    expect(resnet.layer('block1_add').inbound).toEqual(['stem_act', 'block1_bn_b']);
    expect(resnet.layer('block2_add').inbound).toEqual(['block2_proj_bn', 'block2_bn_b']);
    expect(resnet.outbound('block1_out').map((l) => l.name).sort()).toEqual(['block2_conv_a', 'block2_proj']);
    expect(resnet.outbound('stem_act').map((l) => l.name).sort()).toEqual(['block1_add', 'block1_conv_a']);
    expect(resnet.outbound('logits')).toEqual([]);
    // Every edge agrees with tf.js's own inbound nodes.
    for (const layer of get('tinyResnet').layers) {
      const want = layer.inboundNodes.flatMap((n) => n.inboundLayers.map((l) => l.name));
      expect(resnet.layer(layer.name).inbound).toEqual(want);
    }
    const nested = new ModelTap(get('tinyNested'));
    expect(nested.layer('features/conv_a').inbound).toEqual(['image']);
    expect(nested.layer('features').inbound).toEqual(['image']);
    // Readers of a nested model's output see the inner layer that computed it.
    expect(nested.layer('head_conv').inbound).toEqual(['features/conv_b']);
    expect(() => resnet.outbound('nope')).toThrow(CnnXaiError);
  });

  it('fetching the output layer gives a tensor of its own (the output can be disposed separately)', () => {
    const tap = new ModelTap(get('tinyVgg'));
    const x = inputFor(get('tinyVgg'), 2, 1);
    const before = countTensors();
    const acts = tap.activations(x, ['logits', 'gap']);
    expect(acts['logits']?.isDisposed).toBe(false);
    const want = tap.predict(x);
    expectClose(acts['logits'] as tf.Tensor, want, { rtol: 0, atol: 0 });
    const { output, activations } = tap.forward(x, { fetch: ['logits'] });
    expect(output).not.toBe(activations['logits']);
    output.dispose();
    expectClose(activations['logits'] as tf.Tensor, want, { rtol: 0, atol: 0 });
    tf.dispose([want, activations['logits'] as tf.Tensor, ...Object.values(acts)]);
    expect(countTensors()).toBe(before);
    // A layer named twice is fetched once (nothing left behind that the caller cannot dispose).
    const twice = tap.forward(x, { fetch: ['conv2', 'conv2'] });
    expect(Object.keys(twice.activations)).toEqual(['conv2']);
    tf.dispose([twice.output, ...Object.values(twice.activations)]);
    expect(countTensors()).toBe(before);
    x.dispose();
  });

  it('layer("nope") throws UNKNOWN_LAYER listing the layer names', () => {
    const tap = new ModelTap(get('tinyVgg'));
    let error: unknown;
    try {
      tap.layer('nope');
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(CnnXaiError);
    expect((error as CnnXaiError).code).toBe('UNKNOWN_LAYER');
    expect((error as CnnXaiError).message).toContain('"nope"');
    for (const n of tap.layerNames()) expect((error as CnnXaiError).hint).toContain(n);
    const x = inputFor(get('tinyVgg'), 1);
    const before = countTensors();
    expect(codeOf(() => tap.forward(x, { fetch: ['conv1', 'nope'] }))).toBe('UNKNOWN_LAYER');
    expect(codeOf(() => tap.gradient(x, (o) => o.sum(1) as tf.Tensor1D, { layer: 'nope' }))).toBe('UNKNOWN_LAYER');
    expect(codeOf(() => tap.runFrom('nope', x))).toBe('UNKNOWN_LAYER');
    expect(countTensors()).toBe(before);
    x.dispose();
  });

  it('lastSpatialLayer is the last layer with a 4-D output; NO_CONV_LAYER without one', () => {
    expect(new ModelTap(get('tinyVgg')).lastSpatialLayer().name).toBe('conv3');
    expect(new ModelTap(get('tinyResnet')).lastSpatialLayer().name).toBe('block2_out');
    expect(new ModelTap(get('tinyMobilenet')).lastSpatialLayer().name).toBe('sep1_relu');
    expect(new ModelTap(get('tinyBranchy')).lastSpatialLayer().name).toBe('conv_mid');
    expect(new ModelTap(get('tinyNested')).lastSpatialLayer().name).toBe('head_conv');
    expect(new ModelTap(get('tinyVgg')).spatialLayers().map((l) => l.name)).toEqual(['conv1', 'conv2', 'pool1', 'conv3']);
    for (const name of ['tinyNoConv', 'linearModel'] as const) {
      const tap = new ModelTap(get(name));
      let error: unknown;
      try {
        tap.lastSpatialLayer();
      } catch (e) {
        error = e;
      }
      expect((error as CnnXaiError).code).toBe('NO_CONV_LAYER');
      expect((error as CnnXaiError).message).toContain('flatten (Flatten)');
    }
  });

  it('a wrong input shape or dtype is BAD_INPUT_SHAPE, and nothing leaks', () => {
    const tap = new ModelTap(get('tinyVgg'));
    const cases = [tf.zeros([2, 15, 16, 1]), tf.zeros([2, 16, 16, 3]), tf.zeros([16, 16, 1]), tf.zeros([2, 16, 16, 1], 'int32')];
    const before = countTensors();
    for (const x of cases) {
      expect(codeOf(() => tap.predict(x))).toBe('BAD_INPUT_SHAPE');
      expect(codeOf(() => tap.gradient(x, (o) => o.sum(1) as tf.Tensor1D))).toBe('BAD_INPUT_SHAPE');
    }
    expect(countTensors()).toBe(before);
    let error: unknown;
    try {
      tap.predict(cases[2] as tf.Tensor);
    } catch (e) {
      error = e;
    }
    expect((error as CnnXaiError).hint).toMatch(/batch dimension/);
    tf.dispose(cases);
  });

  it('a multi-output (or multi-input) model is UNSUPPORTED_MODEL', () => {
    const input = tfl.input({ shape: [6, 6, 1] });
    const a = tfl.layers.conv2d({ filters: 2, kernelSize: 3 }).apply(input) as SymbolicTensor;
    const b = tfl.layers.flatten().apply(input) as SymbolicTensor;
    const two = tfl.model({ inputs: input, outputs: [a, b] });
    expect(codeOf(() => new ModelTap(two))).toBe('UNSUPPORTED_MODEL');
    const in2 = tfl.input({ shape: [6, 6, 1] });
    const sum = tfl.layers.add().apply([input, in2]) as SymbolicTensor;
    expect(codeOf(() => new ModelTap(tfl.model({ inputs: [input, in2], outputs: sum })))).toBe('UNSUPPORTED_MODEL');
    two.dispose();
  });

  it('layers without a kernel of their own are marked generic and still match', () => {
    const model = miscModel();
    const tap = new ModelTap(model);
    expect(tap.layer('leaky').generic).toBe(true);
    expect(tap.layer('capped').generic).toBe(true);
    expect(tap.layer('c1').generic).toBe(false);
    expect(tap.layer('c2').activation).toBe('selu');
    model.dispose();
  });

  it('a disposed tap refuses to run and dispose releases what it derived', () => {
    const model = tinyMobilenet();
    const before = countTensors();
    const tap = new ModelTap(model);
    expect(countTensors()).toBeGreaterThan(before); // flipped kernels, folded BatchNorm
    tap.dispose();
    expect(countTensors()).toBe(before);
    tap.dispose();
    const x = inputFor(model, 1);
    expect(codeOf(() => tap.predict(x))).toBe('UNSUPPORTED_MODEL');
    x.dispose();
    model.dispose();
  });

  it('the same nested model used twice gets distinct names', () => {
    const features = tfl.sequential({
      name: 'shared',
      layers: [tfl.layers.conv2d({ name: 'sc', inputShape: [6, 6, 1], filters: 1, kernelSize: 3, padding: 'same' })],
    });
    const input = tfl.input({ shape: [6, 6, 1], name: 'img' });
    const once = features.apply(input) as SymbolicTensor;
    const twice = features.apply(once) as SymbolicTensor;
    const model = seedWeights(tfl.model({ inputs: input, outputs: tfl.layers.flatten({ name: 'fl' }).apply(twice) as SymbolicTensor }), 3);
    const tap = new ModelTap(model);
    expect(tap.layerNames()).toEqual(['img', 'shared/sc', 'shared', 'shared#1/sc', 'shared#1', 'fl']);
    const x = inputFor(model, 2, 2);
    expectClose(tap.predict(x), model.predict(x) as tf.Tensor, { rtol: 1e-5 });
    const acts = tap.activations(x, ['shared', 'shared#1']);
    const diff = tf.tidy(() => tf.max(tf.abs(tf.sub(acts['shared'] as tf.Tensor, acts['shared#1'] as tf.Tensor))).dataSync()[0]);
    expect(diff).toBeGreaterThan(1e-3);
    model.dispose();
  });

  it('nested model activations have the sub-model output shape', () => {
    const m = tinyNested({ inputShape: [8, 8, 1] });
    expect(new ModelTap(m).layer('features').outputShape).toEqual([null, 4, 4, 4]);
    m.dispose();
  });
});

describe('ModelTap.onDispose', () => {
  it('runs each releaser once when the tap is disposed, and at once on a disposed tap', () => {
    const m = tinyNested({ inputShape: [8, 8, 1] });
    const tap = new ModelTap(m);
    const calls: string[] = [];
    tap.onDispose(() => calls.push('a'));
    tap.onDispose(() => calls.push('b'));
    expect(calls).toEqual([]);
    tap.dispose();
    tap.dispose();
    expect(calls).toEqual(['a', 'b']);
    tap.onDispose(() => calls.push('late'));
    expect(calls).toEqual(['a', 'b', 'late']);
    m.dispose();
  });
});

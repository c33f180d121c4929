/**
 * LRP's defining properties (METHODS.md 1.9) on small networks built here, hand-computed rule
 * values on a 2-layer dense net, BatchNorm canonization, and the errors.
 */
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import type { LayersModel, SymbolicTensor } from '@tensorflow/tfjs-layers';
import { beforeAll, describe, expect, it } from 'vitest';
import { classScores, explain, isCnnXaiError, ModelTap, selectBackend, type Attribution } from '@cnn-xai/core';
import { expectClose, expectNoLeakedTensors, randomInput, seedWeights, tinyMobilenet, tinyResnet, tinyVgg } from '@cnn-xai/testing';
import { buildPlan, COMPOSITES, defineComposite, epsilon, lrp, lrpOverrides, pass, zPlus } from './index.js';

const sym = (t: unknown): SymbolicTensor => t as SymbolicTensor;

interface Run {
  values: Float32Array;
  shape: number[];
  extras: Attribution['extras'];
}

async function run(model: LayersModel | ModelTap, x: tf.Tensor4D, target: number[], options: Record<string, unknown> = {}): Promise<Run> {
  const r = await explain(lrp, { model, input: x, target, options });
  try {
    return { values: Float32Array.from(await r.values.data()), shape: r.values.shape, extras: r.extras };
  } finally {
    r.dispose();
  }
}

/** Input gradient x input of the target logits (what LRP-0 from a one-hot start equals on ReLU nets). */
function gradientTimesInput(model: LayersModel, x: tf.Tensor4D, target: number[]): Float32Array {
  const tap = new ModelTap(model);
  try {
    return tf.tidy(() => {
      const g = tap.gradient(x, (out) => classScores(out, target));
      return Float32Array.from(tf.mul(g.gradient, x).dataSync());
    });
  } finally {
    tap.dispose();
  }
}

function logits(model: LayersModel, x: tf.Tensor4D, target: number[]): number[] {
  return tf.tidy(() => Array.from(classScores(model.predict(x) as tf.Tensor, target).dataSync()));
}

async function codeOf(p: Promise<unknown>): Promise<{ code: string; message: string }> {
  try {
    await p;
  } catch (e) {
    if (isCnnXaiError(e)) return { code: e.code, message: e.message };
    throw e;
  }
  throw new Error('expected a CnnXaiError');
}

/** x = [1, 2] -> hidden = relu(x W1) = [5, 1] -> logits = hidden W2 = [3, 1]; no biases. */
function twoLayerDense(): LayersModel {
  const model = tfl.sequential({
    layers: [
      tfl.layers.flatten({ name: 'flatten', inputShape: [1, 2, 1] }),
      tfl.layers.dense({ name: 'hidden', units: 2, activation: 'relu', useBias: false }),
      tfl.layers.dense({ name: 'out', units: 2, useBias: false }),
    ],
  });
  const w1 = tf.tensor2d([
    [1, -1],
    [2, 1],
  ]);
  const w2 = tf.tensor2d([
    [1, 0],
    [-2, 1],
  ]);
  model.getLayer('hidden').setWeights([w1]);
  model.getLayer('out').setWeights([w2]);
  tf.dispose([w1, w2]);
  return model;
}

/** Bias-free ReLU VGG-like net: conv, conv, max pool, conv, GAP, dense. */
function biasFreeVgg(seed = 11, positive = false): LayersModel {
  const conv = (name: string, filters: number) =>
    tfl.layers.conv2d({ name, filters, kernelSize: 3, padding: 'same', activation: 'relu', useBias: false });
  const model = tfl.sequential({
    layers: [
      tfl.layers.conv2d({ name: 'c1', filters: 4, kernelSize: 3, padding: 'same', activation: 'relu', useBias: false, inputShape: [8, 8, 2] }),
      conv('c2', 4),
      tfl.layers.maxPooling2d({ name: 'pool', poolSize: 2 }),
      conv('c3', 6),
      tfl.layers.globalAveragePooling2d({ name: 'gap' }),
      tfl.layers.dense({ name: 'out', units: 3, useBias: false }),
    ],
  });
  seedWeights(model, seed);
  if (positive) {
    for (const l of model.layers) {
      const ws = l.getWeights().map((w) => tf.abs(w));
      l.setWeights(ws);
      tf.dispose(ws);
    }
  }
  return model;
}

/**
 * Bias-free ReLU net with the other layer kinds: a strided conv on an odd size, a dilated conv,
 * an Add, a depthwise conv (multiplier 2, stride 2), a separable conv, Concatenate, ZeroPadding2D,
 * average pooling, Flatten, Dropout and Dense.
 */
function biasFreeBranchy(seed = 12, undilated = false): LayersModel {
  const input = tfl.input({ shape: [9, 9, 2], name: 'image' });
  const a = sym(tfl.layers.conv2d({ name: 'c1', filters: 4, kernelSize: 3, padding: 'same', activation: 'relu', useBias: false }).apply(input));
  const c2 = undilated
    ? tfl.layers.conv2d({ name: 'c2', filters: 4, kernelSize: 5, padding: 'same', activation: 'relu', useBias: false })
    : tfl.layers.conv2d({ name: 'c2', filters: 4, kernelSize: 3, padding: 'same', dilationRate: 2, activation: 'relu', useBias: false });
  const b = sym(c2.apply(input));
  const s = sym(tfl.layers.add({ name: 'add' }).apply([a, b]));
  const d = sym(
    tfl.layers.depthwiseConv2d({ name: 'dw', kernelSize: 3, depthMultiplier: 2, strides: 2, padding: 'same', activation: 'relu', useBias: false }).apply(s),
  );
  const e = sym(tfl.layers.separableConv2d({ name: 'sep', filters: 6, kernelSize: 3, padding: 'same', activation: 'relu', useBias: false }).apply(d));
  const f = sym(tfl.layers.conv2d({ name: 'c4', filters: 2, kernelSize: 1, activation: 'relu', useBias: false }).apply(d));
  let x = sym(tfl.layers.concatenate({ name: 'cat' }).apply([e, f]));
  x = sym(tfl.layers.zeroPadding2d({ name: 'pad', padding: 1 }).apply(x));
  x = sym(tfl.layers.averagePooling2d({ name: 'avg', poolSize: 2 }).apply(x));
  x = sym(tfl.layers.conv2d({ name: 'c5', filters: 4, kernelSize: 3, strides: 2, padding: 'same', activation: 'relu', useBias: false }).apply(x));
  x = sym(tfl.layers.flatten({ name: 'flat' }).apply(x));
  x = sym(tfl.layers.dropout({ name: 'drop', rate: 0.5 }).apply(x));
  const out = sym(tfl.layers.dense({ name: 'out', units: 3, useBias: false }).apply(x));
  return seedWeights(tfl.model({ inputs: input, outputs: out }), seed);
}

/**
 * The same function without the dilated conv (tf.js has no gradient for dilated convs): c2 becomes
 * a plain 5x5 conv whose kernel is c2's spread out with zeros. Other models are returned as they are.
 */
function twinOf(model: LayersModel): LayersModel {
  if (!model.layers.some((l) => l.name === 'c2' && l.getClassName() === 'Conv2D' && model.layers.some((m) => m.name === 'dw'))) return model;
  const twin = biasFreeBranchy(12, true);
  for (const l of model.layers) {
    const ws = l.getWeights();
    if (l.name !== 'c2') {
      if (ws.length) twin.getLayer(l.name).setWeights(ws);
      continue;
    }
    const spread = tf.tidy(() => {
      const k = ws[0] as tf.Tensor4D; // [3, 3, in, out] -> [5, 5, in, out], taps at even offsets
      const [kh, kw, a, b] = k.shape;
      const rows = tf.reshape(tf.pad(tf.reshape(k, [kh, 1, kw, a * b]), [[0, 0], [0, 1], [0, 0], [0, 0]]), [kh * 2, kw, a * b]);
      const r5 = tf.slice(rows, [0, 0, 0], [2 * kh - 1, kw, a * b]);
      const cols = tf.reshape(tf.pad(tf.reshape(r5, [2 * kh - 1, kw, 1, a * b]), [[0, 0], [0, 0], [0, 1], [0, 0]]), [2 * kh - 1, kw * 2, a * b]);
      return tf.reshape(tf.slice(cols, [0, 0, 0], [2 * kh - 1, 2 * kw - 1, a * b]), [2 * kh - 1, 2 * kw - 1, a, b]);
    });
    twin.getLayer('c2').setWeights([spread]);
    spread.dispose();
  }
  return twin;
}

/** Bias-free ReLU net with overlapping 'same' pooling: average pool 3/2, max pool 3/2, global max pool. */
function biasFreePools(seed = 15): LayersModel {
  const conv = (name: string, extra: Record<string, unknown> = {}) =>
    tfl.layers.conv2d({ name, filters: 3, kernelSize: 3, padding: 'same', activation: 'relu', useBias: false, ...extra });
  const model = tfl.sequential({
    layers: [
      conv('c1', { inputShape: [11, 11, 1] }),
      tfl.layers.averagePooling2d({ name: 'avg', poolSize: 3, strides: 2, padding: 'same' }),
      conv('c2'),
      tfl.layers.maxPooling2d({ name: 'max', poolSize: 3, strides: 2, padding: 'same' }),
      conv('c3'),
      tfl.layers.globalMaxPooling2d({ name: 'gmax' }),
      tfl.layers.dense({ name: 'out', units: 3, useBias: false }),
    ],
  });
  return seedWeights(model, seed);
}

const LRP0 = { composite: 'epsilon', epsilon: 1e-9 };

beforeAll(async () => {
  await selectBackend('cpu');
});

describe('hand-computed rules on a 2-layer dense net', () => {
  // x = [1, 2]; hidden z = [5, 1]; logits [3, 1]; target 0. Relevance at the hidden layer with
  // LRP-0 from the logit: [5 * 1, 1 * -2] = [5, -2]. Each case sets the hidden layer's rule.
  const cases: Array<[string, string, number[]]> = [
    // R_i = sum_k x_i w_ik / z_k R_k = [1/5*5 + -1/1*-2, 4/5*5 + 2/1*-2]
    ['LRP-0', 'hidden=zero', [3, 0]],
    // Positive weights only: k=0: [1, 4]/5 * 5; k=1: [0, 2]/2 * -2.
    ['z-plus', 'hidden=z-plus', [1, 2]],
    // 2 * positive shares - 1 * negative shares: k=0: 2*[1, 4]; k=1: 2*[0, -2] - [-1, 0]/-1 * -2 = [2, -4].
    ['alpha-beta(2,1)', 'hidden=alpha-beta(2,1)', [4, 4]],
    // w + 0.25 w+: k=0: [1.25, 5]/6.25 * 5 = [1, 4]; k=1: [-1, 2.5]/1.5 * -2 = [4/3, -10/3].
    ['gamma(0.25)', 'hidden=gamma(0.25)', [7 / 3, 2 / 3]],
    // x w - l w+ - h w- with l=0, h=3: k=0: [1, 4]/5 * 5; k=1: ([-1, 2] + 3*[1, 0])/4 * -2 = [-1, -1].
    ['z-box(0,3)', 'hidden=z-box(0,3)', [0, 3]],
    // Each output's relevance split evenly over its 2 inputs: (5 - 2) / 2.
    ['flat', 'hidden=flat', [1.5, 1.5]],
    // Shares w^2 / sum w^2: k=0: [1, 4]/5 * 5; k=1: [1, 1]/2 * -2.
    ['w-square', 'hidden=w-square', [0, 3]],
  ];
  for (const [name, rules, want] of cases) {
    it(`${name}: input relevance ${want.map((v) => v.toFixed(3)).join(', ')}`, async () => {
      const model = twoLayerDense();
      const x = tf.tensor4d([1, 2], [1, 1, 2, 1]);
      const r = await run(model, x, [0], { ...LRP0, rules });
      expectClose(r.values, want, { atol: 1e-5, rtol: 1e-5, what: name });
      expect(r.extras['outputRelevance']).toEqual([3]);
      expect((r.extras['rules'] as Record<string, string>)['out']).toBe('epsilon(1e-9)');
      tf.dispose(x);
      model.dispose();
    });
  }

  it('epsilon = 1 absorbs relevance per neuron: out keeps 3/4, hidden keeps 5/6 and 1/2', async () => {
    const model = twoLayerDense();
    const x = tf.tensor4d([1, 2], [1, 1, 2, 1]);
    const r = await run(model, x, [0], { composite: 'epsilon', epsilon: 1 });
    // R_hidden = [5, -2] * 3/(3+1) = [3.75, -1.5]; R_x = [1/6*3.75 + -1/2*-1.5, 4/6*3.75 + 2/2*-1.5].
    expectClose(r.values, [1.375, 1], { atol: 1e-6 });
    const one = await run(model, x, [0], { composite: 'epsilon', epsilon: 1, start: 'one-hot' });
    expectClose(one.values, [1.375 / 3, 1 / 3], { atol: 1e-6, what: 'one-hot start = logit start / logit' });
    expect(one.extras['outputRelevance']).toEqual([1]);
    // The input keeps 2.375 of the logit's 3 (the ratio is the same from either start).
    expectClose(one.extras['relevanceRatio'] as number[], [2.375 / 3], { atol: 1e-6 });
    expectClose(r.extras['relevanceRatio'] as number[], [2.375 / 3], { atol: 1e-6 });
    tf.dispose(x);
    model.dispose();
  });
});

describe('conservation and equivalences on bias-free ReLU networks', () => {
  for (const [name, make, rules, backend] of [
    ['VGG-like (conv, max pool, GAP, dense)', () => biasFreeVgg(), '', 'cpu'],
    ['branchy (strided/dilated conv, add, depthwise, separable, concat, padding, avg pool, flatten, dropout)', () => biasFreeBranchy(), '', 'cpu'],
    ['branchy, on wasm (convolution gradients as forward convolutions)', () => biasFreeBranchy(), '', 'wasm'],
    ['overlapping same-padded pools, epsilon rule on max pools', () => biasFreePools(), '@maxpool=epsilon(1e-9)', 'cpu'],
  ] as const) {
    it(`${name}: LRP-0 sums to the target logit and equals gradient x input`, async () => {
      await selectBackend(backend);
      const model = make();
      const x = randomInput([3, ...(model.inputs[0]?.shape.slice(1) as number[])], 5);
      const target = [0, 1, 2];
      try {
        const want = logits(model, x, target);
        const r = await run(model, x, target, { ...LRP0, rules });
        if (rules) expect((r.extras['rules'] as Record<string, string>)['gmax']).toBe('epsilon(1e-9)');
        const sums = r.extras['inputRelevance'] as number[];
        const dev = Math.max(...sums.map((s, i) => Math.abs(s - (want[i] as number)) / Math.abs(want[i] as number)));
        console.info(`[lrp conservation] ${name} on ${backend}: logits ${want.map((v) => v.toFixed(4)).join(', ')}; max |sum R - logit| / |logit| ${dev.toExponential(2)}`);
        sums.forEach((s, i) => expect(Math.abs(s - (want[i] as number))).toBeLessThan(1e-4 * Math.max(1, Math.abs(want[i] as number))));
        expect(r.extras['outputRelevance']).toEqual(want.map((v) => Math.fround(v)));
        (r.extras['relevanceRatio'] as number[]).forEach((q) => expect(q).toBeCloseTo(1, 4));
        const one = await run(model, x, target, { ...LRP0, rules, start: 'one-hot' });
        const per = one.values.length / 3;
        const scaled = one.values.map((v, i) => v * (want[Math.floor(i / per)] as number));
        expectClose(scaled, r.values, { rtol: 1e-5, what: 'one-hot start times the logit vs logit start' });
        // From the logit start LRP-0 equals gradient x input (Captum's LRP). Not checked with
        // 'same'-padded average pooling: tf.js's own AvgPoolGrad is wrong at the borders there.
        if (!rules) {
          const twin = twinOf(model);
          expectClose(r.values, gradientTimesInput(twin, x, target), { rtol: 1e-4, atol: 1e-7, what: 'LRP-0 vs gradient x input' });
          if (twin !== model) twin.dispose();
        }
      } finally {
        tf.dispose(x);
        model.dispose();
        await selectBackend('cpu');
      }
    });
  }

  it('gamma = 0 equals LRP-0; alpha-beta(1, 0) equals z-plus', async () => {
    const model = biasFreeBranchy();
    const x = randomInput([2, 9, 9, 2], 6);
    const target = [1, 2];
    const lrp0 = await run(model, x, target, LRP0);
    const g0 = await run(model, x, target, { ...LRP0, rules: '@conv=gamma(0),@dense=gamma(0)' });
    // Equal up to the stabilizers (gamma's 1e-6 against epsilon 1e-9) on small denominators.
    expectClose(g0.values, lrp0.values, { rtol: 1e-3, what: 'gamma(0) vs LRP-0' });
    const zp = await run(model, x, target, { ...LRP0, rules: '@conv=z-plus' });
    const ab = await run(model, x, target, { ...LRP0, rules: '@conv=alpha-beta(1,0)' });
    expectClose(ab.values, zp.values, { rtol: 1e-5, what: 'alpha-beta(1,0) vs z-plus' });
    expect((zp.extras['rules'] as Record<string, string>)['sep']).toBe('z-plus, relu: pass');
    tf.dispose(x);
    model.dispose();
  });

  it('epsilon > 0 only absorbs: with non-negative weights the input sum falls from the logit as epsilon grows', async () => {
    const model = biasFreeVgg(13, true);
    const x = randomInput([2, 8, 8, 2], 7);
    const target = [0, 2];
    const want = logits(model, x, target);
    const sums: number[][] = [];
    for (const eps of [0, 1e-3, 1e-1, 1]) {
      sums.push((await run(model, x, target, { composite: 'epsilon', epsilon: eps })).extras['inputRelevance'] as number[]);
    }
    want.forEach((w, i) => {
      expect(Math.abs((sums[0]?.[i] as number) - w)).toBeLessThan(1e-4 * w);
      for (let k = 1; k < sums.length; k++) {
        expect(sums[k]?.[i] as number).toBeGreaterThan(0);
        expect(sums[k]?.[i] as number).toBeLessThan(sums[k - 1]?.[i] as number);
      }
    });
    tf.dispose(x);
    model.dispose();
  });

  it('z-box conserves relevance at the input layer (biases and all)', async () => {
    const model = tinyVgg();
    const tap = new ModelTap(model);
    const x = randomInput([2, 16, 16, 1], 8);
    const plan = buildPlan(tap, { composite: COMPOSITES['epsilon-gamma-box'](), entries: [] });
    try {
      expect(plan.report['conv1']).toBe('z-box(0, 1), relu: pass');
      expect(plan.report['conv2']).toBe('gamma(0.25), relu: pass');
      const overrides = lrpOverrides(plan);
      const score = (out: tf.Tensor) => classScores(out, [1, 3]);
      const [atInput, atConv1] = tf.tidy(() => {
        const rin = tap.gradient(x, score, { overrides }).gradient;
        const rconv1 = tap.gradient(x, score, { layer: 'conv1', overrides }).gradient;
        return [Array.from(tf.sum(rin, [1, 2, 3]).dataSync()), Array.from(tf.sum(rconv1, [1, 2, 3]).dataSync())];
      });
      atInput.forEach((s, i) => expect(Math.abs(s - (atConv1[i] as number))).toBeLessThan(1e-4 * Math.abs(atConv1[i] as number)));
      // Not a tautology: the layers above conv1 (gamma, epsilon with biases) do not conserve.
      expect(Math.abs((atConv1[0] as number) - 1)).toBeGreaterThan(1e-3);
    } finally {
      plan.owned.forEach((t) => t.dispose());
      tf.dispose(x);
      tap.dispose();
      model.dispose();
    }
  });
});

describe('BatchNorm canonization', () => {
  it('folds each BatchNorm into the conv before it; the folded layer computes what conv + BN compute', () => {
    for (const make of [tinyResnet, tinyMobilenet]) {
      const model = make();
      const tap = new ModelTap(model);
      const plan = buildPlan(tap, { composite: COMPOSITES['epsilon-plus'](), entries: [] });
      const x = randomInput([2, 12, 12, 3], 9);
      try {
        const folded = [...plan.layers.values()].filter((l) => l.foldedInto);
        const expected =
          make === tinyResnet
            ? ['stem_bn', 'block1_bn_a', 'block1_bn_b', 'block2_bn_a', 'block2_bn_b', 'block2_proj_bn']
            : ['conv1_bn', 'dw1_bn', 'sep1_bn'];
        expect(folded.map((l) => l.name).sort()).toEqual([...expected].sort());
        for (const bn of folded) {
          const target = plan.layers.get(bn.foldedInto as string);
          expect(target?.folds).toBe(bn.name);
          const inbound = tap.layer(bn.foldedInto as string).inbound[0] as string;
          const acts = tap.activations(x, [inbound, bn.name]);
          const ours = tf.tidy(() => {
            let h = acts[inbound] as tf.Tensor;
            for (const s of target?.stages ?? []) h = s.op.forward([h], s.op.params);
            return h;
          });
          expectClose(ours, acts[bn.name] as tf.Tensor, { rtol: 1e-5, atol: 1e-5, what: `${bn.foldedInto} with ${bn.name} folded in` });
          tf.dispose([ours, ...Object.values(acts)]);
        }
      } finally {
        plan.owned.forEach((t) => t.dispose());
        tf.dispose(x);
        tap.dispose();
        model.dispose();
      }
    }
  });

  it('leaves the model untouched: same weights, same forward output as model.predict, with or without canonization', async () => {
    const model = tinyResnet();
    const before = model.getWeights().map((w) => Array.from(w.dataSync()));
    const x = randomInput([2, 12, 12, 3], 10);
    const tap = new ModelTap(model);
    const plan = buildPlan(tap, { composite: COMPOSITES['epsilon-plus'](), entries: [] });
    const out = tf.tidy(() => tap.gradient(x, (o) => classScores(o, [0, 1]), { overrides: lrpOverrides(plan) }).output);
    const ref = model.predict(x) as tf.Tensor;
    expectClose(out, ref, { rtol: 1e-5, what: 'forward with LRP overrides vs model.predict' });
    plan.owned.forEach((t) => t.dispose());
    tf.dispose([out, ref]);
    for (const canonize of [true, false]) await run(tap, x, [0, 1], { canonize });
    const after = model.getWeights().map((w) => Array.from(w.dataSync()));
    expect(after).toEqual(before);
    tap.dispose();
    tf.dispose(x);
    model.dispose();
  });

  it('LRP-0 is the same folded or not (both equal gradient x input); z-plus differs', async () => {
    for (const make of [tinyResnet, tinyMobilenet]) {
      const model = make();
      const x = randomInput([2, 12, 12, 3], 11);
      const target = [0, 1];
      const folded = await run(model, x, target, LRP0);
      const unfolded = await run(model, x, target, { ...LRP0, canonize: false });
      expect(Object.keys(folded.extras['folded'] as object).length).toBeGreaterThan(0);
      expect(unfolded.extras['folded']).toEqual({});
      const gxi = gradientTimesInput(model, x, target);
      expectClose(folded.values, gxi, { rtol: 1e-4, what: 'canonized LRP-0 vs gradient x input' });
      expectClose(unfolded.values, gxi, { rtol: 1e-4, what: 'uncanonized LRP-0 vs gradient x input' });
      if (make === tinyResnet) {
        const plain = await run(model, x, target, { rules: 'stem_conv=gradient' });
        expect((plain.extras['rules'] as Record<string, string>)['stem_bn']).toBe('gradient');
        expect((plain.extras['rules'] as Record<string, string>)['stem_conv']).toBe('gradient');
        expect(plain.extras['folded']).not.toHaveProperty('stem_bn');
      }
      const zf = await run(model, x, target, {});
      const zu = await run(model, x, target, { canonize: false });
      expect(zf.extras['composite']).toBe('epsilon-plus');
      let diff = 0;
      zf.values.forEach((v, i) => (diff = Math.max(diff, Math.abs(v - (zu.values[i] as number)))));
      expect(diff).toBeGreaterThan(1e-4);
      tf.dispose(x);
      model.dispose();
    }
  });

  it('a BatchNorm after an Add (nothing to fold into) is an affine layer with the epsilon rule', async () => {
    const input = tfl.input({ shape: [6, 6, 2], name: 'image' });
    const a = sym(tfl.layers.conv2d({ name: 'ca', filters: 3, kernelSize: 3, padding: 'same', activation: 'relu' }).apply(input));
    const b = sym(tfl.layers.conv2d({ name: 'cb', filters: 3, kernelSize: 1 }).apply(input));
    let h = sym(tfl.layers.add({ name: 'sum' }).apply([a, b]));
    h = sym(tfl.layers.batchNormalization({ name: 'bn' }).apply(h));
    h = sym(tfl.layers.reLU({ name: 'act' }).apply(h));
    h = sym(tfl.layers.globalAveragePooling2d({ name: 'gap' }).apply(h));
    const out = sym(tfl.layers.dense({ name: 'out', units: 2 }).apply(h));
    const model = seedWeights(tfl.model({ inputs: input, outputs: out }), 14);
    const x = randomInput([2, 6, 6, 2], 12);
    const r = await run(model, x, [0, 1], { start: 'one-hot' });
    const rules = r.extras['rules'] as Record<string, string>;
    expect(rules['bn']).toBe('epsilon(0.000001)');
    expect(rules['sum']).toBe('norm');
    expect(rules['act']).toBe('pass');
    expect(r.extras['folded']).toEqual({});
    const lrp0 = await run(model, x, [0, 1], LRP0);
    expectClose(lrp0.values, gradientTimesInput(model, x, [0, 1]), { rtol: 1e-4, what: 'LRP-0 with an affine BatchNorm' });
    tf.dispose(x);
    model.dispose();
  });
});

describe('options and errors', () => {
  it('rejects layers without an LRP rule before running, naming the layer, its class and the handled classes', async () => {
    const cases: Array<[string, () => LayersModel, string, string]> = [
      [
        'UpSampling2D',
        () =>
          tfl.sequential({
            layers: [
              tfl.layers.conv2d({ name: 'c', filters: 2, kernelSize: 3, padding: 'same', inputShape: [4, 4, 1] }),
              tfl.layers.upSampling2d({ name: 'up', size: [2, 2] }),
              tfl.layers.flatten({ name: 'f' }),
              tfl.layers.dense({ name: 'out', units: 2 }),
            ],
          }),
        'up',
        'UpSampling2D',
      ],
      [
        'LeakyReLU',
        () =>
          tfl.sequential({
            layers: [
              tfl.layers.flatten({ name: 'f', inputShape: [4, 4, 1] }),
              tfl.layers.dense({ name: 'h', units: 3 }),
              tfl.layers.leakyReLU({ name: 'leaky' }),
              tfl.layers.dense({ name: 'out', units: 2 }),
            ],
          }),
        'leaky',
        'LeakyReLU',
      ],
      [
        'a Softmax layer inside the network (the tap keeps it)',
        () =>
          tfl.sequential({
            layers: [
              tfl.layers.flatten({ name: 'f', inputShape: [4, 4, 1] }),
              tfl.layers.dense({ name: 'h', units: 3 }),
              tfl.layers.softmax({ name: 'sm' }),
              tfl.layers.dense({ name: 'out', units: 2 }),
            ],
          }),
        'sm',
        'Softmax',
      ],
      [
        'a softmax inside the network',
        () =>
          tfl.sequential({
            layers: [
              tfl.layers.flatten({ name: 'f', inputShape: [4, 4, 1] }),
              tfl.layers.dense({ name: 'h', units: 3, activation: 'softmax' }),
              tfl.layers.dense({ name: 'out', units: 2 }),
            ],
          }),
        'h',
        'Dense',
      ],
    ];
    for (const [what, make, layer, cls] of cases) {
      const model = make();
      const x = tf.zeros([1, 4, 4, 1]) as tf.Tensor4D;
      const err = (await expectNoLeakedTensors(() => codeOf(explain(lrp, { model, input: x, target: 0 })), { what })) as {
        code: string;
        message: string;
      };
      expect(err.code, what).toBe('UNSUPPORTED_LAYER');
      expect(err.message).toContain(`"${layer}" (${cls})`);
      if (!what.includes('oftmax')) expect(err.message).toContain('Conv2D, DepthwiseConv2D, SeparableConv2D, Dense');
      tf.dispose(x);
      model.dispose();
    }
  });

  it('the rules option overrides the composite per layer and reports every layer', async () => {
    const model = tinyVgg();
    const x = randomInput([1, 16, 16, 1], 13);
    const r = await run(model, x, [2], { rules: 'conv1=z-box, conv*=gamma(0.5); logits=epsilon(1e-3), pool1=gradient' });
    expect(r.extras['rules']).toEqual({
      conv1: 'z-box(0, 1), relu: pass',
      conv2: 'gamma(0.5), relu: pass',
      pool1: 'gradient',
      conv3: 'gamma(0.5), relu: pass',
      gap: 'norm',
      logits: 'epsilon(0.001)',
    });
    const byClass = await run(model, x, [2], { rules: '@first=flat,Conv2D=epsilon' });
    expect((byClass.extras['rules'] as Record<string, string>)['conv1']).toBe('flat, relu: pass');
    expect((byClass.extras['rules'] as Record<string, string>)['conv2']).toBe('epsilon(0.000001), relu: pass');
    const first = await run(model, x, [2], { composite: 'epsilon-plus-flat' });
    expect((first.extras['rules'] as Record<string, string>)['conv1']).toBe('flat, relu: pass');
    expect((first.extras['rules'] as Record<string, string>)['conv2']).toBe('z-plus, relu: pass');
    const bad: Array<[string, string]> = [
      ['conv1=wobble', 'unknown rule'],
      ['conv1', 'pattern=rule'],
      ['nothere=epsilon', 'matches no layer'],
      ['gap=pass', 'fits none'],
      ['conv1=gamma(x)', 'numbers'],
      ['conv1=alpha-beta(3,1)', 'alpha - beta'],
      ['@nonsense=epsilon', 'unknown kind'],
    ];
    for (const [rules, text] of bad) {
      const e = (await expectNoLeakedTensors(() => codeOf(run(model, x, [2], { rules })).catch((err: Error) => { throw new Error(`${rules}: ${err.message}`); }), { what: rules })) as { code: string; message: string };
      expect(e.code, rules).toBe('BAD_OPTION_VALUE');
      expect(e.message, rules).toContain(text);
    }
    tf.dispose(x);
    model.dispose();
  });

  it('reports a final softmax as left out, folded BatchNorms, and splits a separable first layer into z-box and gamma', async () => {
    const mobile = tinyMobilenet();
    const x = randomInput([1, 12, 12, 3], 15);
    const r = await run(mobile, x, [1]);
    expect(r.extras['rules']).toMatchObject({
      conv1: 'z-plus (with conv1_bn folded in)',
      conv1_bn: 'folded into conv1',
      conv1_relu: 'pass',
      dw2: 'z-plus',
      dw2_relu: 'pass',
      sep1: 'z-plus (with sep1_bn folded in)',
      gap: 'norm',
      probs: 'epsilon(0.000001), softmax left out (logits are explained)',
    });
    expect(r.extras['folded']).toEqual({ conv1_bn: 'conv1', dw1_bn: 'dw1', sep1_bn: 'sep1' });
    tf.dispose(x);
    mobile.dispose();

    const model = seedWeights(
      tfl.sequential({
        layers: [
          tfl.layers.separableConv2d({ name: 'sep', filters: 3, kernelSize: 3, padding: 'same', activation: 'relu', inputShape: [6, 6, 2] }),
          tfl.layers.globalAveragePooling2d({ name: 'gap' }),
          tfl.layers.dense({ name: 'out', units: 3 }),
          tfl.layers.activation({ name: 'probs', activation: 'softmax' }),
        ],
      }),
      16,
    );
    const y = randomInput([1, 6, 6, 2], 16);
    const box = await run(model, y, [0], { composite: 'epsilon-gamma-box' });
    expect(box.extras['rules']).toEqual({
      sep: 'z-box(0, 1) (depthwise) + gamma(0.25) (pointwise), relu: pass',
      gap: 'norm',
      out: 'epsilon(0.000001)',
      probs: 'left out (softmax: logits are explained)',
    });
    expect(box.values.every((v) => Number.isFinite(v))).toBe(true);
    tf.dispose(y);
    model.dispose();
  });

  it('z-box refuses inputs outside [low, high]; custom composites from defineComposite', async () => {
    const model = tinyVgg();
    const x = tf.tidy(() => tf.add(randomInput([1, 16, 16, 1], 14), 1.5)) as tf.Tensor4D;
    const e = await codeOf(run(model, x, [0], { composite: 'epsilon-gamma-box' }));
    expect(e.code).toBe('BAD_OPTION_VALUE');
    expect(e.message).toContain('low and high');
    const ok = await run(model, x, [0], { composite: 'epsilon-gamma-box', low: 0, high: 3 });
    expect((ok.extras['rules'] as Record<string, string>)['conv1']).toBe('z-box(0, 3), relu: pass');
    expect((await codeOf(run(model, x, [0], { low: 1, high: 1 }))).code).toBe('BAD_OPTION_VALUE');

    const custom = defineComposite({
      name: 'plus-everywhere',
      layers: [
        ['activation', pass()],
        [{ name: 'logits' }, epsilon({ epsilon: 1e-9 })],
        ['linear', zPlus()],
        ['avgpool', epsilon({ epsilon: 1e-9 })],
      ],
    });
    const c = await run(model, x, [0], { composite: custom });
    expect(c.extras['composite']).toBe('plus-everywhere');
    expect((c.extras['rules'] as Record<string, string>)['logits']).toBe('epsilon(1e-9)');
    const same = await run(model, x, [0], { composite: 'epsilon-plus', epsilon: 1e-9, rules: 'gap=epsilon(1e-9)' });
    expectClose(c.values, same.values, { rtol: 1e-6, what: 'custom composite vs epsilon-plus' });
    expect((await codeOf(run(model, x, [0], { composite: { name: 'broken' } }))).code).toBe('BAD_OPTION_VALUE');
    tf.dispose(x);
    model.dispose();
  });
});

describe('constants kept with the tap', () => {
  it('are derived once per tap, follow new weights, and are released by tap.dispose()', async () => {
    await selectBackend('wasm');
    const model = tinyVgg();
    const x = randomInput([2, 16, 16, 1], 12);
    const before = tf.memory().numTensors;
    const tap = new ModelTap(model);
    try {
      const first = await run(tap, x, [0, 1]);
      const kept = tf.memory().numTensors;
      expect(kept).toBeGreaterThan(before);
      const again = await run(tap, x, [0, 1]);
      expect(tf.memory().numTensors).toBe(kept);
      expectClose(again.values, first.values, { rtol: 0, atol: 0, what: 'second call' });
      // New weights: the kept constants are derived again (same count), and the result follows.
      const changed = tf.tidy(() => model.getWeights().map((t, i) => tf.mul(t, tf.randomUniform(t.shape, -1, 2, 'float32', i))));
      model.setWeights(changed);
      tf.dispose(changed);
      const scaled = await run(tap, x, [0, 1]);
      const fresh = await run(model, x, [0, 1]);
      expect(tf.memory().numTensors).toBe(kept);
      expectClose(scaled.values, fresh.values, { rtol: 1e-5, atol: 1e-7, what: 'after setWeights' });
      expect(Math.max(...scaled.values.map((v, i) => Math.abs(v - (first.values[i] as number))))).toBeGreaterThan(1e-3 * Math.max(...first.values.map(Math.abs)));
    } finally {
      tap.dispose();
    }
    expect(tf.memory().numTensors).toBe(before);
    tf.dispose(x);
    model.dispose();
  });
});

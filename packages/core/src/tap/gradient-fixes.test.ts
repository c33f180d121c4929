/**
 * Tap gradients where tf.js's own gradients are wrong or missing, checked against references
 * computed without the tap: 'same'-padded average pooling (tf.js 4.22's AvgPoolGrad divides by
 * the full window, the forward by the in-image count), dilated convolutions (tf.js has no
 * gradient for them), and a final `tfl.layers.softmax()` (default axis 1) in logits mode.
 */
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import type { LayersModel } from '@tensorflow/tfjs-layers';
import { afterAll, describe, expect, it } from 'vitest';
import { countTensors, expectClose, maxAbs, seedWeights } from '../../../testing/src/index.js';
import { selectBackend } from '../backend.js';
import { createRandom } from '../random.js';
import { ModelTap } from './tap.js';

const MODES = [
  ['cpu', 'fast'],
  ['cpu', 'plain'],
  ['wasm', 'fast'],
  ['wasm', 'plain'],
] as const;

afterAll(async () => {
  await selectBackend('cpu');
});

/** The tap's input gradient of sum(output * r) per image, on the current backend. */
function tapGradient(model: LayersModel, mode: 'fast' | 'plain', x: Float32Array, shape: number[], r: Float32Array): Float32Array {
  const tap = new ModelTap(model, { gradients: mode });
  const before = countTensors();
  const xt = tf.tensor(x, shape);
  const k = r.length;
  const rt = tf.tensor2d(r, [1, k]);
  const { gradient, output, scores } = tap.gradient(xt, (out) => tf.sum(tf.mul(tf.reshape(out, [shape[0] as number, k]), rt), 1) as tf.Tensor1D);
  const g = Float32Array.from(gradient.dataSync());
  tf.dispose([xt, rt, gradient, output, scores]);
  expect(countTensors()).toBe(before);
  tap.dispose();
  return g;
}

/**
 * Central differences of sum(model.predict(x) * r) for one image, every coordinate at once (one
 * batch of perturbed images through the model's own predict). Exact up to rounding for a model
 * that is linear in its input.
 */
function finiteDifferenceGradient(model: LayersModel, x: Float32Array, shape: number[], r: Float32Array, h: number): Float32Array {
  const p = x.length;
  const batch = new Float32Array(2 * p * p);
  for (let i = 0; i < p; i++) {
    batch.set(x, 2 * i * p);
    batch.set(x, (2 * i + 1) * p);
    batch[2 * i * p + i] = (x[i] as number) + h;
    batch[(2 * i + 1) * p + i] = (x[i] as number) - h;
  }
  const out = tf.tidy(() => (model.predict(tf.tensor(batch, [2 * p, ...shape.slice(1)])) as tf.Tensor).dataSync());
  const k = r.length;
  const score = (row: number): number => {
    let s = 0;
    for (let j = 0; j < k; j++) s += (out[row * k + j] as number) * (r[j] as number);
    return s;
  };
  return Float32Array.from({ length: p }, (_, i) => (score(2 * i) - score(2 * i + 1)) / (2 * h));
}

describe("AveragePooling2D with 'same' padding: the tap differentiates the forward (divide by the in-image count)", () => {
  const CASES: Array<[string, () => LayersModel, number[]]> = [
    [
      'conv, then pool 3 stride 2 on 7x7 (one padded row/column on each side)',
      () =>
        tfl.sequential({
          layers: [
            tfl.layers.conv2d({ inputShape: [7, 7, 2], filters: 3, kernelSize: 3, padding: 'same', name: 'conv' }),
            tfl.layers.averagePooling2d({ poolSize: 3, strides: 2, padding: 'same', name: 'pool' }),
            tfl.layers.flatten(),
            tfl.layers.dense({ units: 4, name: 'out' }),
          ],
        }),
      [1, 7, 7, 2],
    ],
    [
      'pool 2 stride 1 on 5x6 (padding bottom/right only), then pool 2 stride 2 on 5x6',
      () =>
        tfl.sequential({
          layers: [
            tfl.layers.averagePooling2d({ inputShape: [5, 6, 2], poolSize: 2, strides: 1, padding: 'same', name: 'pool1' }),
            tfl.layers.averagePooling2d({ poolSize: 2, strides: 2, padding: 'same', name: 'pool2' }),
            tfl.layers.flatten(),
            tfl.layers.dense({ units: 3, name: 'out' }),
          ],
        }),
      [1, 5, 6, 2],
    ],
  ];

  it.each(CASES)('%s: input gradients equal finite differences of model.predict (cpu and wasm, both modes)', async (_, build, shape) => {
    await selectBackend('cpu');
    const model = seedWeights(build(), 21);
    const size = shape.reduce((a, b) => a * b, 1);
    const x = createRandom(22).normalArray(size);
    const k = (model.outputs[0]?.shape[1] ?? 0) as number;
    const r = createRandom(23).normalArray(k);
    const want = finiteDifferenceGradient(model, x, shape, r, 0.5);
    expect(maxAbs(want)).toBeGreaterThan(0.05);
    for (const [backend, mode] of MODES) {
      await selectBackend(backend);
      const got = tapGradient(model, mode, x, shape, r);
      expectClose(got, want, { rtol: 1e-4, atol: 1e-5, what: `${backend} ${mode}` });
    }
    model.dispose();
  });

  it('the forward value stays model.predict', async () => {
    await selectBackend('cpu');
    const model = seedWeights((CASES[0] as (typeof CASES)[number])[1](), 24);
    const x = tf.tensor4d(createRandom(25).normalArray(2 * 7 * 7 * 2), [2, 7, 7, 2]);
    const tap = new ModelTap(model);
    const acts = tap.activations(x, ['pool']);
    const sub = tfl.model({ inputs: model.inputs, outputs: model.getLayer('pool').output as tfl.SymbolicTensor });
    const want = sub.predict(x) as tf.Tensor;
    expectClose(acts['pool'] as tf.Tensor, want, { rtol: 0, atol: 0 });
    tf.dispose([x, want, acts['pool'] as tf.Tensor]);
    tap.dispose();
    model.dispose();
  });
});

/** A dilated kernel written out with zeros between its taps, in plain JS: [kh, kw, a, b] -> [(kh-1)dh+1, (kw-1)dw+1, a, b]. */
function spreadByHand(values: Float32Array, shape: number[], d: [number, number]): { values: Float32Array; shape: number[] } {
  const [kh, kw, a, b] = shape as [number, number, number, number];
  const eh = (kh - 1) * d[0] + 1;
  const ew = (kw - 1) * d[1] + 1;
  const out = new Float32Array(eh * ew * a * b);
  for (let i = 0; i < kh; i++) {
    for (let j = 0; j < kw; j++) {
      for (let q = 0; q < a * b; q++) out[((i * d[0]) * ew + j * d[1]) * a * b + q] = values[(i * kw + j) * a * b + q] as number;
    }
  }
  return { values: out, shape: [eh, ew, a, b] };
}

interface DilatedSpec {
  kind: 'conv' | 'depthwise' | 'separable';
  kernel: [number, number];
  dilation: [number, number];
  padding: 'same' | 'valid';
  multiplier?: number;
  activation?: 'relu' | 'tanh' | 'linear';
}

/** The model with dilated layers, or (`undilated`) the same model with spread-out kernels and dilation 1. */
function dilatedModel(specs: DilatedSpec[], undilated: boolean): LayersModel {
  const layers: tfl.layers.Layer[] = specs.map((s, i) => {
    const kernelSize: [number, number] = undilated ? [(s.kernel[0] - 1) * s.dilation[0] + 1, (s.kernel[1] - 1) * s.dilation[1] + 1] : s.kernel;
    const common = {
      ...(i === 0 ? { inputShape: [9, 10, 2] } : {}),
      name: `l${i}`,
      kernelSize,
      dilationRate: undilated ? 1 : s.dilation,
      padding: s.padding,
      activation: s.activation ?? 'linear',
    };
    if (s.kind === 'conv') return tfl.layers.conv2d({ ...common, filters: 3 });
    if (s.kind === 'depthwise') return tfl.layers.depthwiseConv2d({ ...common, depthMultiplier: s.multiplier ?? 1 });
    return tfl.layers.separableConv2d({ ...common, filters: 3, depthMultiplier: s.multiplier ?? 1 });
  });
  return tfl.sequential({ layers: [...layers, tfl.layers.flatten(), tfl.layers.dense({ units: 3, name: 'out' })] });
}

/** Copies the dilated model's weights into the undilated one, spreading its (depthwise) conv kernels. */
function copySpread(from: LayersModel, to: LayersModel, specs: DilatedSpec[]): void {
  from.layers.forEach((layer, i) => {
    const spec = specs[i];
    const ws = layer.getWeights().map((w, j) => {
      const values = Float32Array.from(w.dataSync());
      if (!spec || j > 0) return tf.tensor(values, w.shape);
      const s = spreadByHand(values, w.shape, spec.dilation);
      return tf.tensor(s.values, s.shape);
    });
    to.layers[i]?.setWeights(ws);
    tf.dispose(ws);
  });
}

describe('dilated convolutions: the tap differentiates them (tf.js has no gradient for them)', () => {
  const CASES: Array<[string, DilatedSpec[]]> = [
    ['Conv2D 3x3 dilation 2 same', [{ kind: 'conv', kernel: [3, 3], dilation: [2, 2], padding: 'same', activation: 'relu' }]],
    ['Conv2D 2x3 dilation 3x2 valid', [{ kind: 'conv', kernel: [2, 3], dilation: [3, 2], padding: 'valid' }]],
    ['SeparableConv2D 3x3 dilation 2 same (multiplier 1)', [{ kind: 'separable', kernel: [3, 3], dilation: [2, 2], padding: 'same', activation: 'tanh' }]],
    [
      'Conv2D then SeparableConv2D 3x2 dilation 2x1 valid (multiplier 2)',
      [
        { kind: 'conv', kernel: [3, 3], dilation: [2, 2], padding: 'same', activation: 'relu' },
        { kind: 'separable', kernel: [3, 2], dilation: [2, 1], padding: 'valid', multiplier: 2, activation: 'relu' },
      ],
    ],
  ];

  it.each(CASES)('%s: forward equals model.predict, input gradient equals tf.grad of the undilated model (cpu, wasm)', async (_, specs) => {
    await selectBackend('cpu');
    const model = seedWeights(dilatedModel(specs, false), 31);
    const reference = dilatedModel(specs, true);
    copySpread(model, reference, specs);
    const shape = [2, 9, 10, 2];
    const x = createRandom(32).normalArray(shape.reduce((a, b) => a * b, 1));
    const r = createRandom(33).normalArray(3);
    const [want, predicted] = tf.tidy(() => {
      const xt = tf.tensor(x, shape);
      const rt = tf.tensor2d(r, [1, 3]);
      // The reference runs the undilated model's own layers (layer.apply), with tf.js's gradients.
      const g = tf.grad((v: tf.Tensor) => tf.sum(tf.mul(reference.apply(v) as tf.Tensor, rt)))(xt);
      const p = model.predict(xt) as tf.Tensor;
      // The spread-out kernels compute the same function.
      expectClose(reference.predict(xt) as tf.Tensor, p, { rtol: 1e-5, atol: 1e-6, what: 'undilated reference' });
      return [Float32Array.from(g.dataSync()), Float32Array.from(p.dataSync())];
    });
    expect(maxAbs(want as Float32Array)).toBeGreaterThan(0.05);
    for (const [backend, mode] of MODES) {
      await selectBackend(backend);
      const tap = new ModelTap(model, { gradients: mode });
      const out = tf.tidy(() => Float32Array.from(tap.predict(tf.tensor(x, shape)).dataSync()));
      tap.dispose();
      expectClose(out, predicted as Float32Array, { rtol: 1e-5, atol: 1e-6, what: `${backend} ${mode} forward` });
      expectClose(tapGradient(model, mode, x, shape, r), want as Float32Array, { rtol: 1e-4, atol: 1e-5, what: `${backend} ${mode} gradient` });
    }
    model.dispose();
    reference.dispose();
  });

  it('gradients at a layer before a dilated conv equal tf.grad of the undilated head', async () => {
    await selectBackend('cpu');
    const specs = (CASES[3] as (typeof CASES)[number])[1];
    const model = seedWeights(dilatedModel(specs, false), 34);
    const reference = dilatedModel(specs, true);
    copySpread(model, reference, specs);
    const x = tf.tensor4d(createRandom(35).normalArray(9 * 10 * 2), [1, 9, 10, 2]);
    const act = tfl.model({ inputs: model.inputs, outputs: model.getLayer('l0').output as tfl.SymbolicTensor }).predict(x) as tf.Tensor;
    const head = (a: tf.Tensor): tf.Tensor => {
      let y = a;
      for (const layer of reference.layers.slice(1)) y = layer.apply(y) as tf.Tensor;
      return y;
    };
    const want = tf.grad((a: tf.Tensor) => tf.sum(tf.slice(head(a), [0, 0], [1, 1])))(act);
    const tap = new ModelTap(model);
    const { gradient, activation, output, scores } = tap.gradient(x, (o) => tf.reshape(tf.slice(o, [0, 0], [1, 1]), [1]) as tf.Tensor1D, { layer: 'l0' });
    expectClose(activation as tf.Tensor, act, { rtol: 1e-6, atol: 1e-6, what: 'activation' });
    expect(maxAbs(want)).toBeGreaterThan(0.01);
    expectClose(gradient, want, { rtol: 1e-4, atol: 1e-6, what: 'gradient at l0' });
    tf.dispose([x, act, want, gradient, activation as tf.Tensor, output, scores]);
    tap.dispose();
    model.dispose();
    reference.dispose();
  });

  it("DepthwiseConv2D with a dilationRate: the tap computes what model.predict does (tfjs-layers 4.22 runs it undilated), with gradients", async () => {
    await selectBackend('cpu');
    const specs: DilatedSpec[] = [
      { kind: 'depthwise', kernel: [3, 3], dilation: [2, 2], padding: 'same', activation: 'tanh' },
      { kind: 'depthwise', kernel: [3, 2], dilation: [2, 2], padding: 'valid', multiplier: 2 },
    ];
    const model = seedWeights(dilatedModel(specs, false), 36);
    const shape = [2, 9, 10, 2];
    const x = createRandom(37).normalArray(shape.reduce((a, b) => a * b, 1));
    const r = createRandom(38).normalArray(3);
    const [want, predicted] = tf.tidy(() => {
      const xt = tf.tensor(x, shape);
      const rt = tf.tensor2d(r, [1, 3]);
      const g = tf.grad((v: tf.Tensor) => tf.sum(tf.mul(model.apply(v) as tf.Tensor, rt)))(xt);
      return [Float32Array.from(g.dataSync()), Float32Array.from((model.predict(xt) as tf.Tensor).dataSync())];
    });
    for (const [backend, mode] of MODES.filter(([b, m]) => !(b === 'wasm' && m === 'plain'))) {
      await selectBackend(backend);
      const tap = new ModelTap(model, { gradients: mode });
      const out = tf.tidy(() => Float32Array.from(tap.predict(tf.tensor(x, shape)).dataSync()));
      tap.dispose();
      expectClose(out, predicted as Float32Array, { rtol: 1e-5, atol: 1e-6, what: `${backend} ${mode} forward` });
      expectClose(tapGradient(model, mode, x, shape, r), want as Float32Array, { rtol: 1e-4, atol: 1e-5, what: `${backend} ${mode} gradient` });
    }
    model.dispose();
  });
});

describe('a final Softmax layer (tfjs-layers default axis 1) is the softmax logits mode leaves out', () => {
  function headed(head: 'softmax-layer' | 'softmax-layer-last' | 'dense-softmax' | 'spatial-softmax'): LayersModel {
    const input = tfl.input({ shape: [6, 6, 2] });
    const conv = tfl.layers.conv2d({ filters: 3, kernelSize: 3, activation: 'relu', name: 'conv' }).apply(input) as tfl.SymbolicTensor;
    let out: tfl.SymbolicTensor;
    if (head === 'spatial-softmax') {
      // Over the image axes of a 4-D output (a spatial softmax): not a softmax over classes; it stays.
      out = tfl.layers.softmax({ name: 'probs', axis: [1, 2] }).apply(conv) as tfl.SymbolicTensor;
    } else {
      const flat = tfl.layers.flatten().apply(conv) as tfl.SymbolicTensor;
      if (head === 'dense-softmax') {
        out = tfl.layers.dense({ units: 4, activation: 'softmax', name: 'logits' }).apply(flat) as tfl.SymbolicTensor;
      } else {
        const logits = tfl.layers.dense({ units: 4, name: 'logits' }).apply(flat) as tfl.SymbolicTensor;
        out = tfl.layers.softmax({ name: 'probs', ...(head === 'softmax-layer-last' ? { axis: -1 } : {}) }).apply(logits) as tfl.SymbolicTensor;
      }
    }
    return seedWeights(tfl.model({ inputs: input, outputs: out }), 41);
  }

  /** The model's own pre-softmax values: the 'logits' layer with its softmax replaced by linear. */
  function referenceLogits(model: LayersModel, x: tf.Tensor): tf.Tensor {
    return tf.tidy(() => {
      const dense = model.getLayer('logits');
      const flat = tfl.model({ inputs: model.inputs, outputs: dense.input as tfl.SymbolicTensor }).apply(x) as tf.Tensor2D;
      const [w, b] = dense.getWeights() as [tf.Tensor2D, tf.Tensor1D];
      return tf.add(tf.matMul(flat, w), b);
    });
  }

  it.each(['softmax-layer', 'softmax-layer-last', 'dense-softmax'] as const)('%s: stripped; logits equal the model\'s pre-softmax values', async (head) => {
    await selectBackend('cpu');
    const model = headed(head);
    const x = tf.tensor4d(createRandom(42).normalArray(3 * 6 * 6 * 2), [3, 6, 6, 2]);
    if (head === 'softmax-layer') expect(model.getLayer('probs').getConfig()['axis']).toBe(1);
    const tap = new ModelTap(model);
    expect(tap.softmaxStripped).toBe(true);
    const logits = tap.predict(x);
    const want = referenceLogits(model, x);
    expectClose(logits, want, { rtol: 1e-5, atol: 1e-6, what: 'logits' });
    const probs = model.predict(x) as tf.Tensor;
    expectClose(tf.tidy(() => tf.softmax(logits)), probs, { rtol: 1e-5, atol: 1e-6, what: 'softmax of the logits' });
    // Output mode 'model' keeps the softmax.
    const modelTap = new ModelTap(model, { output: 'model' });
    expect(modelTap.softmaxStripped).toBe(false);
    const full = modelTap.predict(x);
    expectClose(full, probs, { rtol: 1e-5, atol: 1e-6, what: 'model output' });
    // The gradient of a logit is the gradient of the model's own pre-softmax values.
    const { gradient, output, scores } = tap.gradient(x, (o) => tf.reshape(tf.slice(o, [0, 2], [-1, 1]), [-1]) as tf.Tensor1D);
    const wantGrad = tf.grad((v: tf.Tensor) => tf.sum(tf.slice(referenceLogits(model, v), [0, 2], [-1, 1])))(x);
    expectClose(gradient, wantGrad, { rtol: 1e-4, atol: 1e-6, what: 'logit gradient' });
    tf.dispose([x, logits, want, probs, full, gradient, output, scores, wantGrad]);
    tap.dispose();
    modelTap.dispose();
    model.dispose();
  });

  it('a Softmax over other axes (the image axes of a 4-D output) stays, in logits mode too', async () => {
    await selectBackend('cpu');
    const model = headed('spatial-softmax');
    const x = tf.tensor4d(createRandom(43).normalArray(2 * 6 * 6 * 2), [2, 6, 6, 2]);
    const tap = new ModelTap(model);
    expect(tap.softmaxStripped).toBe(false);
    const got = tap.predict(x);
    const want = model.predict(x) as tf.Tensor;
    expectClose(got, want, { rtol: 1e-5, atol: 1e-6, what: 'spatial softmax' });
    tf.dispose([x, got, want]);
    tap.dispose();
    model.dispose();
  });
});

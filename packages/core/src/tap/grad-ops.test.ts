import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-core/dist/public/chained_ops/register_all_chained_ops';
import * as tfl from '@tensorflow/tfjs-layers';
import type { LayersModel } from '@tensorflow/tfjs-layers';
import { beforeAll, describe, expect, it } from 'vitest';
import { countTensors, expectClose, seedWeights } from '../../../testing/src/index.js';
import { selectBackend } from '../backend.js';
import { createRandom } from '../random.js';
import {
  computePads,
  conv2dFastGrad,
  depthwiseFastGrad,
  dilate,
  flipConvKernel,
  flipDepthwiseKernel,
  maxPoolGradFirstMax,
  type ConvParams,
  type PoolParams,
} from './grad-ops.js';
import { ModelTap } from './tap.js';

type Pad = 'same' | 'valid';

interface ConvCase {
  size: [number, number];
  stride: number;
  padding: Pad;
  kernel: number;
}

const CONV_CASES: ConvCase[] = [];
for (const size of [[7, 7], [8, 8], [7, 8]] as Array<[number, number]>) {
  for (const stride of [1, 2]) {
    for (const padding of ['same', 'valid'] as Pad[]) {
      for (const kernel of [3, 1, 2]) CONV_CASES.push({ size, stride, padding, kernel });
    }
  }
}
const label = (c: ConvCase): string => `${c.size.join('x')} k${c.kernel} s${c.stride} ${c.padding}`;

function oneLayer(kind: 'conv' | 'depthwise' | 'separable', c: ConvCase, multiplier = 1): LayersModel {
  const common = { inputShape: [...c.size, 3], kernelSize: c.kernel, strides: c.stride, padding: c.padding, name: 'op' };
  const layer =
    kind === 'conv'
      ? tfl.layers.conv2d({ ...common, filters: 4 })
      : kind === 'depthwise'
        ? tfl.layers.depthwiseConv2d({ ...common, depthMultiplier: multiplier })
        : tfl.layers.separableConv2d({ ...common, filters: 4, depthMultiplier: multiplier });
  return seedWeights(tfl.sequential({ layers: [layer] }), 40 + c.kernel);
}

/** Input gradient of sum(output * R) for a fixed random R, through a tap in the given mode. */
function inputGradient(model: LayersModel, mode: 'fast' | 'plain', x: tf.Tensor4D): Float32Array {
  const tap = new ModelTap(model, { gradients: mode });
  const outShape = (model.outputs[0]?.shape.slice(1) ?? []) as number[];
  const rnd = createRandom(5);
  const r = tf.tensor(rnd.normalArray(x.shape[0] * outShape.reduce((a, b) => a * b, 1)), [x.shape[0], ...outShape]);
  const { gradient, output, scores } = tap.gradient(x, (out) => tf.sum(tf.mul(out, r).reshape([x.shape[0], -1]), 1) as tf.Tensor1D);
  const data = Float32Array.from(gradient.dataSync());
  tf.dispose([gradient, output, scores, r]);
  tap.dispose();
  return data;
}

function inputData(c: ConvCase, seed: number): Float32Array {
  return createRandom(seed).uniformArray(2 * c.size[0] * c.size[1] * 3);
}

const convParams = (c: ConvCase): ConvParams => ({ strides: [c.stride, c.stride], padding: c.padding, dilation: [1, 1] });

/** dL/dx of L = sum(f(x) * R) for a fixed random R. */
function gradOf(f: (x: tf.Tensor4D) => tf.Tensor, x: tf.Tensor4D): tf.Tensor {
  return tf.tidy(() => {
    const shape = tf.tidy(() => f(x).shape);
    const r = tf.tensor(createRandom(6).normalArray(shape.reduce((a, b) => a * b, 1)), shape);
    return tf.grad((v: tf.Tensor) => tf.sum(tf.mul(f(v as tf.Tensor4D), r)))(x);
  });
}

describe('forward-conv input gradients equal tf.js gradients (cpu)', () => {
  beforeAll(async () => {
    await selectBackend('cpu');
  });

  it.each(CONV_CASES.map((c) => [label(c), c] as const))('conv2dFastGrad %s', (_, c) => {
    const x = tf.tensor4d(inputData(c, 1), [2, ...c.size, 3]);
    const kernel = tf.tensor4d(createRandom(2).normalArray(c.kernel * c.kernel * 3 * 4), [c.kernel, c.kernel, 3, 4]);
    const flipped = flipConvKernel(kernel);
    const p = convParams(c);
    const before = countTensors();
    const fast = gradOf((v) => conv2dFastGrad(v, kernel, flipped, p), x);
    const plain = gradOf((v) => tf.conv2d(v, kernel, p.strides, p.padding), x);
    expect(countTensors()).toBe(before + 2);
    expect(fast.shape).toEqual(x.shape);
    expect(tf.tidy(() => tf.max(tf.abs(plain)).dataSync()[0])).toBeGreaterThan(0.1);
    expectClose(fast, plain, { rtol: 1e-4, atol: 1e-6, what: label(c) });
    // The forward value is the plain conv.
    expectClose(tf.tidy(() => conv2dFastGrad(x, kernel, flipped, p)), tf.tidy(() => tf.conv2d(x, kernel, p.strides, p.padding)), { rtol: 0, atol: 0 });
    tf.dispose([x, kernel, flipped, fast, plain]);
  });

  it.each(CONV_CASES.flatMap((c) => [1, 2].map((m) => [`${label(c)} multiplier ${m}`, c, m] as const)))('depthwiseFastGrad %s', (_, c, m) => {
    const x = tf.tensor4d(inputData(c, 3), [2, ...c.size, 3]);
    const kernel = tf.tensor4d(createRandom(4).normalArray(c.kernel * c.kernel * 3 * m), [c.kernel, c.kernel, 3, m]);
    const flipped = flipDepthwiseKernel(kernel);
    const p = convParams(c);
    const fast = gradOf((v) => depthwiseFastGrad(v, kernel, flipped, p), x);
    const plain = gradOf((v) => tf.depthwiseConv2d(v, kernel, p.strides, p.padding), x);
    expectClose(fast, plain, { rtol: 1e-4, atol: 1e-6, what: label(c) });
    tf.dispose([x, kernel, flipped, fast, plain]);
  });
});

describe('a tap on wasm (forward-conv gradients) equals a plain tap on cpu', () => {
  /** The cpu plain gradient, then the wasm fast one, of the same model and input. */
  async function both(build: () => LayersModel, c: ConvCase, seed: number): Promise<[Float32Array, Float32Array]> {
    const data = inputData(c, seed);
    const out: Float32Array[] = [];
    for (const [backend, mode] of [['cpu', 'plain'], ['wasm', 'fast']] as const) {
      await selectBackend(backend);
      const model = build();
      const x = tf.tensor4d(data, [2, ...c.size, 3]);
      out.push(inputGradient(model, mode, x));
      x.dispose();
      model.dispose();
    }
    return out as [Float32Array, Float32Array];
  }

  it.each(CONV_CASES.map((c) => [label(c), c] as const))('Conv2D %s', async (_, c) => {
    const [plain, fast] = await both(() => oneLayer('conv', c), c, 1);
    expect(Math.max(...plain.map(Math.abs))).toBeGreaterThan(0.1);
    expectClose(fast, plain, { rtol: 1e-4, atol: 1e-6, what: label(c) });
  });

  it.each(CONV_CASES.flatMap((c) => [1, 2].map((m) => [`${label(c)} multiplier ${m}`, c, m] as const)))(
    'DepthwiseConv2D %s (wasm has no plain depthwise input gradient)',
    async (_, c, m) => {
      const [plain, fast] = await both(() => oneLayer('depthwise', c, m), c, 2);
      expectClose(fast, plain, { rtol: 1e-4, atol: 1e-6, what: label(c) });
    },
  );

  it.each(CONV_CASES.filter((c) => c.size[0] === 7 && c.size[1] === 8).map((c) => [label(c), c] as const))('SeparableConv2D %s', async (_, c) => {
    const [plain, fast] = await both(() => oneLayer('separable', c, 2), c, 3);
    expectClose(fast, plain, { rtol: 1e-4, atol: 1e-6, what: label(c) });
  });
});

/** A batch with many ties: values from {0, 0.5, 1} (and a flat block). */
function tiedInput(shape: [number, number, number, number], seed: number): tf.Tensor4D {
  const rnd = createRandom(seed);
  const data = Float32Array.from({ length: shape.reduce((a, b) => a * b, 1) }, () => rnd.int(3) / 2);
  data.fill(1, 0, Math.min(data.length, 2 * shape[2] * shape[3]));
  return tf.tensor4d(data, shape);
}

const POOL_CASES: Array<[string, PoolParams, [number, number, number, number]]> = [
  ['pool 2 stride 2 valid', { pool: [2, 2], strides: [2, 2], padding: 'valid' }, [2, 8, 8, 2]],
  ['pool 2 stride 2 valid, odd size', { pool: [2, 2], strides: [2, 2], padding: 'valid' }, [1, 7, 9, 3]],
  ['pool 3 stride 2 same', { pool: [3, 3], strides: [2, 2], padding: 'same' }, [2, 8, 8, 2]],
  ['pool 3 stride 2 same, odd size', { pool: [3, 3], strides: [2, 2], padding: 'same' }, [2, 7, 9, 1]],
  ['pool 2 stride 1 valid', { pool: [2, 2], strides: [1, 1], padding: 'valid' }, [2, 6, 7, 2]],
  ['pool 2 stride 1 same', { pool: [2, 2], strides: [1, 1], padding: 'same' }, [1, 5, 6, 2]],
  ['pool 3x2 stride 2x1 valid', { pool: [3, 2], strides: [2, 1], padding: 'valid' }, [1, 7, 6, 2]],
];

function firstMaxGrad(x: tf.Tensor4D, p: PoolParams, dy: tf.Tensor4D): tf.Tensor4D {
  return tf.tidy(() => maxPoolGradFirstMax(dy, x, tf.maxPool(x, p.pool, p.strides, p.padding), p));
}

function cpuReference(x: tf.Tensor4D, p: PoolParams, dy: tf.Tensor4D): tf.Tensor {
  return tf.grad((v: tf.Tensor) => tf.sum(tf.mul(tf.maxPool(v as tf.Tensor4D, p.pool, p.strides, p.padding), dy)))(x);
}

function upstream(x: tf.Tensor4D, p: PoolParams, seed: number): tf.Tensor4D {
  const shape = tf.tidy(() => tf.maxPool(x, p.pool, p.strides, p.padding).shape);
  return tf.tensor4d(createRandom(seed).uniformArray(shape.reduce((a, b) => a * b, 1), 0.5, 1.5), shape);
}

describe('maxPoolGradFirstMax', () => {
  it.each(POOL_CASES)('equals the cpu backend tf.grad of tf.maxPool with many ties: %s', async (_, p, shape) => {
    await selectBackend('cpu');
    const x = tiedInput(shape, 8);
    const dy = upstream(x, p, 9);
    const before = countTensors();
    const ours = firstMaxGrad(x, p, dy);
    expect(countTensors()).toBe(before + 1);
    const want = cpuReference(x, p, dy);
    expectClose(ours, want, { rtol: 0, atol: 1e-6, what: 'first-max gradient' });
    // The whole upstream gradient lands somewhere (windows cover every output cell).
    expect(tf.tidy(() => tf.sum(ours).dataSync()[0])).toBeCloseTo(tf.tidy(() => tf.sum(dy).dataSync()[0]) as number, 3);
    tf.dispose([ours, want, x, dy]);
  });

  it.each(POOL_CASES)('on wasm equals the cpu result: %s', async (_, p, shape) => {
    await selectBackend('cpu');
    const xc = tiedInput(shape, 10);
    const dyc = upstream(xc, p, 11);
    const want = Float32Array.from(cpuReference(xc, p, dyc).dataSync());
    const xs = Float32Array.from(xc.dataSync());
    const dys = Float32Array.from(dyc.dataSync());
    const dyShape = dyc.shape;
    tf.dispose([xc, dyc]);
    await selectBackend('wasm');
    const x = tf.tensor4d(xs, shape);
    const dy = tf.tensor4d(dys, dyShape);
    const ours = firstMaxGrad(x, p, dy);
    expect(tf.getBackend()).toBe('wasm');
    expectClose(ours, want, { rtol: 0, atol: 1e-6 });
    tf.dispose([x, dy, ours]);
  });

  it('sends a tied window to its first maximum in row-major order (hand-made case)', async () => {
    await selectBackend('wasm');
    // Four 2x2 windows: all equal; two maxima on the second row; a single maximum; two maxima on the last row.
    const x = tf.tensor4d([1, 1, 0, 0, 1, 1, 2, 2, 0, 0, 0, 0, 0, 5, 5, 0], [1, 4, 4, 1]);
    const dy = tf.tensor4d([1, 2, 3, 4], [1, 2, 2, 1]);
    const g = firstMaxGrad(x, { pool: [2, 2], strides: [2, 2], padding: 'valid' }, dy);
    expect(Array.from(g.dataSync())).toEqual([1, 0, 0, 0, 0, 0, 2, 0, 0, 0, 0, 0, 0, 3, 4, 0]);
    tf.dispose([x, dy, g]);
  });

  it('a tap in fast mode uses the first-max rule on wasm (equals the cpu plain gradient)', async () => {
    const model = seedWeights(
      tfl.sequential({
        layers: [
          tfl.layers.maxPooling2d({ inputShape: [6, 6, 2], poolSize: 2, strides: 2 }),
          tfl.layers.flatten(),
          tfl.layers.dense({ units: 3 }),
        ],
      }),
      3,
    );
    const grads: Float32Array[] = [];
    for (const [backend, mode] of [['cpu', 'plain'], ['wasm', 'fast']] as const) {
      await selectBackend(backend);
      const x = tiedInput([2, 6, 6, 2], 12);
      const tap = new ModelTap(model, { gradients: mode });
      const { gradient, output, scores } = tap.gradient(x, (o) => o.sum(1) as tf.Tensor1D);
      grads.push(Float32Array.from(gradient.dataSync()));
      tf.dispose([gradient, output, scores, x]);
      tap.dispose();
    }
    expectClose(grads[1] as Float32Array, grads[0] as Float32Array, { rtol: 0, atol: 1e-6 });
    model.dispose();
  });
});

describe('computePads and dilate', () => {
  it('computePads follows TensorFlow (extra pixel bottom/right)', () => {
    expect(computePads('valid', 7, 7, [3, 3], [1, 1])).toEqual([0, 0, 0, 0]);
    expect(computePads('same', 7, 7, [3, 3], [1, 1])).toEqual([1, 1, 1, 1]);
    expect(computePads('same', 8, 8, [3, 3], [2, 2])).toEqual([0, 1, 0, 1]);
    expect(computePads('same', 7, 8, [3, 3], [2, 2])).toEqual([1, 1, 0, 1]);
    expect(computePads('same', 6, 6, [2, 2], [1, 1])).toEqual([0, 1, 0, 1]);
    expect(computePads('same', 5, 5, [3, 3], [1, 1], [2, 2])).toEqual([2, 2, 2, 2]);
  });

  it('dilate inserts stride-1 zeros between rows and columns', async () => {
    await selectBackend('wasm');
    const t = tf.tensor4d([1, 2, 3, 4], [1, 2, 2, 1]);
    const d = dilate(t, 2, 3);
    expect(d.shape).toEqual([1, 3, 4, 1]);
    expect(Array.from(d.dataSync())).toEqual([1, 0, 0, 2, 0, 0, 0, 0, 3, 0, 0, 4]);
    expect(dilate(t, 1, 1)).toBe(t);
    tf.dispose([t, d]);
  });
});

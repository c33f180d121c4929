import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-core/dist/public/chained_ops/register_all_chained_ops';
import * as tfl from '@tensorflow/tfjs-layers';
import type { LayersModel } from '@tensorflow/tfjs-layers';
import { beforeAll, describe, expect, it } from 'vitest';
import { countTensors, expectClose, seedWeights } from '../../../testing/src/index.js';
import { selectBackend } from '../backend.js';
import { createRandom } from '../random.js';
import { computePads, dilate, maxPoolGradFirstMax, type PoolParams } from './grad-ops.js';
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
function inputGradient(model: LayersModel, mode: 'fast' | 'plain', x: tf.Tensor4D): tf.Tensor {
  const tap = new ModelTap(model, { gradients: mode });
  const outShape = (model.outputs[0]?.shape.slice(1) ?? []) as number[];
  const rnd = createRandom(5);
  const r = tf.tensor(rnd.normalArray(x.shape[0] * outShape.reduce((a, b) => a * b, 1)), [x.shape[0], ...outShape]);
  const { gradient, output, scores } = tap.gradient(x, (out) => tf.sum(tf.mul(out, r).reshape([x.shape[0], -1]), 1) as tf.Tensor1D);
  tf.dispose([output, scores, r]);
  tap.dispose();
  return gradient;
}

function input(c: ConvCase, seed: number): tf.Tensor4D {
  return tf.tensor4d(createRandom(seed).uniformArray(2 * c.size[0] * c.size[1] * 3), [2, ...c.size, 3]);
}

describe('fast conv input gradients equal tf.js gradients (cpu)', () => {
  beforeAll(async () => {
    await selectBackend('cpu');
  });

  it.each(CONV_CASES.map((c) => [label(c), c] as const))('Conv2D %s', (_, c) => {
    const model = oneLayer('conv', c);
    const x = input(c, 1);
    const before = countTensors();
    const fast = inputGradient(model, 'fast', x);
    const plain = inputGradient(model, 'plain', x);
    expect(fast.shape).toEqual(x.shape);
    expect(tf.tidy(() => tf.max(tf.abs(plain)).dataSync()[0])).toBeGreaterThan(0.1);
    expectClose(fast, plain, { rtol: 1e-4, atol: 1e-6, what: label(c) });
    tf.dispose([fast, plain]);
    expect(countTensors()).toBe(before);
    x.dispose();
    model.dispose();
  });

  it.each(CONV_CASES.flatMap((c) => [1, 2].map((m) => [`${label(c)} multiplier ${m}`, c, m] as const)))(
    'DepthwiseConv2D %s',
    (_, c, m) => {
      const model = oneLayer('depthwise', c, m);
      const x = input(c, 2);
      const fast = inputGradient(model, 'fast', x);
      const plain = inputGradient(model, 'plain', x);
      expectClose(fast, plain, { rtol: 1e-4, atol: 1e-6, what: label(c) });
      tf.dispose([fast, plain, x]);
      model.dispose();
    },
  );

  it.each(CONV_CASES.filter((c) => c.size[0] === 7 && c.size[1] === 8).map((c) => [label(c), c] as const))('SeparableConv2D %s', (_, c) => {
    const model = oneLayer('separable', c, 2);
    const x = input(c, 3);
    const fast = inputGradient(model, 'fast', x);
    const plain = inputGradient(model, 'plain', x);
    expectClose(fast, plain, { rtol: 1e-4, atol: 1e-6, what: label(c) });
    tf.dispose([fast, plain, x]);
    model.dispose();
  });
});

describe('fast conv gradients on wasm equal the cpu ones', () => {
  const picked = CONV_CASES.filter((c) => c.size[0] !== c.size[1] && c.kernel !== 2);
  it.each(picked.map((c) => [label(c), c] as const))('Conv2D and DepthwiseConv2D x2 %s', async (_, c) => {
    const results: Record<string, Float32Array[]> = {};
    for (const backend of ['cpu', 'wasm'] as const) {
      await selectBackend(backend);
      const conv = oneLayer('conv', c);
      const dw = oneLayer('depthwise', c, 2);
      const x = input(c, 4);
      results[backend] = [conv, dw].map((m) => {
        const g = inputGradient(m, 'fast', x);
        const data = g.dataSync() as Float32Array;
        g.dispose();
        m.dispose();
        return Float32Array.from(data);
      });
      x.dispose();
    }
    results['cpu']?.forEach((want, i) => expectClose(results['wasm']?.[i] as Float32Array, want, { rtol: 1e-5, what: `${label(c)} #${i}` }));
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
  return tf.grad((v: tf.Tensor4D) => tf.sum(tf.mul(tf.maxPool(v, p.pool, p.strides, p.padding), dy)))(x);
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

/**
 * The layer steps the rules re-run: each vector-Jacobian product equals the gradient of its
 * forward (tf.grad on the cpu backend where tf.js's own gradient is right), on cpu and on wasm
 * (where convolution gradients are forward convolutions).
 */
import * as tf from '@tensorflow/tfjs-core';
import { afterAll, describe, expect, it } from 'vitest';
import { createRandom, selectBackend } from '@cnn-xai/core';
import { expectClose } from '@cnn-xai/testing';
import { alphaBeta, gamma, propagate, zPlus } from './rules.js';
import { avgPoolOp, conv2dOp, denseOp, depthwiseOp, globalAvgPoolOp, globalMaxPoolOp, maxPoolOp, spreadKernel, type LayerOp } from './ops.js';

const rnd = createRandom(3);
const data = (shape: number[]): { values: Float32Array; shape: number[] } => ({
  values: rnd.normalArray(shape.reduce((a, b) => a * b, 1), 0, 1),
  shape,
});

interface Case {
  name: string;
  x: number[];
  op: () => LayerOp;
  kernel?: { values: Float32Array; shape: number[] };
  /** Reference gradient from tf.grad of this forward (default: the op's own forward). */
  reference?: (x: tf.Tensor) => tf.Tensor;
}

const kConv = data([3, 3, 2, 3]);
const kDw = data([3, 3, 2, 2]);
const kDense = data([2, 4]);

const CASES: Case[] = [
  { name: 'conv 3x3 same stride 2 (odd size)', x: [2, 7, 7, 2], kernel: kConv, op: () => conv2dOp({ kernel: null, bias: null }, { strides: [2, 2], padding: 'same' }) },
  { name: 'conv 3x3 valid stride 2', x: [2, 8, 7, 2], kernel: kConv, op: () => conv2dOp({ kernel: null, bias: null }, { strides: [2, 2], padding: 'valid' }) },
  { name: 'depthwise 3x3 multiplier 2 same stride 2', x: [2, 7, 6, 2], kernel: kDw, op: () => depthwiseOp({ kernel: null, bias: null }, { strides: [2, 2], padding: 'same' }) },
  { name: 'depthwise 3x3 multiplier 2 valid stride 1', x: [1, 6, 6, 2], kernel: kDw, op: () => depthwiseOp({ kernel: null, bias: null }, { strides: [1, 1], padding: 'valid' }) },
  { name: 'dense on a 4-D input', x: [2, 3, 3, 2], kernel: kDense, op: () => denseOp({ kernel: null, bias: null }) },
  { name: 'average pool 3 stride 2 valid', x: [2, 7, 7, 2], op: () => avgPoolOp({ pool: [3, 3], strides: [2, 2], padding: 'valid' }) },
  { name: 'max pool 3 stride 2 same', x: [2, 7, 7, 2], op: () => maxPoolOp({ pool: [3, 3], strides: [2, 2], padding: 'same' }) },
  { name: 'global average pool', x: [2, 4, 5, 3], op: () => globalAvgPoolOp(false) },
  { name: 'global max pool', x: [2, 4, 5, 3], op: () => globalMaxPoolOp(false) },
];

describe('vector-Jacobian products of the layer steps', () => {
  afterAll(async () => {
    await selectBackend('cpu');
  });
  const inputs = new Map(CASES.map((c) => [c.name, data(c.x)]));
  const expected = new Map<string, Float32Array>();
  const signals = new Map<string, Float32Array>();

  for (const backend of ['cpu', 'wasm'] as const) {
    it(`match tf.grad of the forward on ${backend}`, async () => {
      await selectBackend(backend);
      for (const c of CASES) {
        const xi = inputs.get(c.name) as { values: Float32Array; shape: number[] };
        tf.tidy(() => {
          const x = tf.tensor(xi.values, xi.shape);
          const kernel = c.kernel ? tf.tensor(c.kernel.values, c.kernel.shape) : null;
          const op = c.op();
          const p = { kernel, bias: null };
          const y = op.forward([x], p);
          if (!signals.has(c.name)) signals.set(c.name, data(y.shape).values);
          const s = tf.tensor(signals.get(c.name) as Float32Array, y.shape);
          const [v] = op.vjp([x], p, s);
          if (backend === 'cpu') {
            const g = tf.grad((t: tf.Tensor) => tf.sum(tf.mul(op.forward([t], p), s)))(x);
            expected.set(c.name, Float32Array.from(g.dataSync()));
          }
          expectClose(v as tf.Tensor, expected.get(c.name) as Float32Array, { rtol: 1e-5, atol: 1e-5, what: `${c.name} on ${backend}` });
        });
      }
    });
  }

  it("average pooling with 'same' padding divides by the window's inputs inside the image (tf.js's own gradient does not)", async () => {
    await selectBackend('cpu');
    // 5x5, window 3, stride 2, 'same': one pixel of padding on each side; windows at the border hold 4 or 6 inputs.
    const op = avgPoolOp({ pool: [3, 3], strides: [2, 2], padding: 'same' });
    const want = new Float32Array(25);
    for (let oy = 0; oy < 3; oy++) {
      for (let ox = 0; ox < 3; ox++) {
        const cells: Array<[number, number]> = [];
        for (let dy = -1; dy <= 1; dy++) for (let dx = -1; dx <= 1; dx++) {
          const y = oy * 2 + dy;
          const x = ox * 2 + dx;
          if (y >= 0 && y < 5 && x >= 0 && x < 5) cells.push([y, x]);
        }
        for (const [y, x] of cells) want[y * 5 + x] = (want[y * 5 + x] as number) + 1 / cells.length;
      }
    }
    const got = tf.tidy(() => {
      const x = tf.ones([1, 5, 5, 1]);
      expect(Array.from(op.forward([x], { kernel: null, bias: null }).dataSync())).toEqual(new Array(9).fill(1));
      return Float32Array.from((op.vjp([x], { kernel: null, bias: null }, tf.ones([1, 3, 3, 1]))[0] as tf.Tensor).dataSync());
    });
    expectClose(got, want, { atol: 1e-6 });
    expect(want[0]).toBeCloseTo(1 / 4, 6);
  });

  it('a dilated kernel spread out with zeros computes the dilated conv', async () => {
    await selectBackend('cpu');
    tf.tidy(() => {
      const x = tf.tensor(data([1, 9, 9, 2]).values, [1, 9, 9, 2]) as tf.Tensor4D;
      const k = tf.tensor4d(kConv.values, kConv.shape as [number, number, number, number]);
      const spread = spreadKernel(k, [2, 2]);
      expect([...spread.shape]).toEqual([5, 5, 2, 3]);
      expectClose(tf.conv2d(x, spread, 1, 'same'), tf.conv2d(x, k, 1, 'same', 'NHWC', 2), { rtol: 1e-5 });
    });
  });

  it('rules skip their negative-input terms on inputs known to be non-negative, with the same result', async () => {
    await selectBackend('cpu');
    tf.tidy(() => {
      const x = tf.relu(tf.tensor(data([2, 6, 6, 2]).values, [2, 6, 6, 2]));
      const op = conv2dOp({ kernel: tf.tensor(kConv.values, kConv.shape), bias: tf.tensor1d([0.1, -0.2, 0.05]) }, { strides: [1, 1], padding: 'same' });
      const r = tf.tensor(data([2, 6, 6, 3]).values, [2, 6, 6, 3]);
      for (const rule of [zPlus(), alphaBeta(), gamma()]) {
        const full = propagate(rule, op, [x], r, [false])[0] as tf.Tensor;
        const skipped = propagate(rule, op, [x], r, [true])[0] as tf.Tensor;
        expectClose(skipped, full, { rtol: 1e-6, what: rule.label });
      }
    });
  });
});

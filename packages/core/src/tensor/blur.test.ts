import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-core/dist/public/chained_ops/register_all_chained_ops';
import { describe, expect, it } from 'vitest';
import { countTensors, expectClose } from '../../../testing/src/index.js';
import { selectBackend } from '../backend.js';
import { gaussianBlur, gaussianKernel1d } from './blur.js';

describe('gaussianKernel1d', () => {
  it('is normalised, symmetric, peaked at the centre, of size 2 ceil(3 sigma) + 1', () => {
    const k = gaussianKernel1d(1.5);
    expect(k).toHaveLength(11);
    expect(k.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 6);
    for (let i = 0; i < k.length; i++) expect(k[i]).toBeCloseTo(k[k.length - 1 - i] as number, 7);
    expect(Math.max(...k)).toBe(k[5]);
    // exp(-d^2 / (2 sigma^2)) ratios
    expect((k[6] as number) / (k[5] as number)).toBeCloseTo(Math.exp(-1 / (2 * 1.5 * 1.5)), 6);
    expect(gaussianKernel1d(1, 5)).toHaveLength(5);
  });
});

describe.each(['cpu', 'wasm'] as const)('gaussianBlur on %s', (backend) => {
  it('keeps a constant image constant (per channel), borders included', async () => {
    await selectBackend(backend);
    const x = tf.tidy(() => tf.ones([2, 9, 7, 3]).mul(tf.tensor1d([0.2, 0.5, 0.9])) as tf.Tensor4D);
    const before = countTensors();
    const y = gaussianBlur(x, 2);
    expect(countTensors()).toBe(before + 1);
    expectClose(y, x, { rtol: 0, atol: 1e-6 });
    // A tiny image with a kernel wider than the image.
    const small = tf.fill([1, 3, 3, 1], 0.7) as tf.Tensor4D;
    expectClose(gaussianBlur(small, 4), small, { rtol: 0, atol: 1e-6 });
    tf.dispose([x, y, small]);
  });

  it('preserves the sum of an image whose content is away from the borders and spreads it symmetrically', async () => {
    await selectBackend(backend);
    const data = new Float32Array(15 * 15);
    data[7 * 15 + 7] = 1;
    const x = tf.tensor4d(data, [1, 15, 15, 1]);
    const y = gaussianBlur(x, 1);
    const v = y.dataSync();
    expect(Array.from(v).reduce((a, b) => a + b, 0)).toBeCloseTo(1, 5);
    const k = gaussianKernel1d(1);
    expect(v[7 * 15 + 7]).toBeCloseTo((k[3] as number) ** 2, 6); // separable: the product of centre taps
    expect(v[7 * 15 + 8]).toBeCloseTo(v[8 * 15 + 7] as number, 7);
    expect(v[6 * 15 + 7]).toBeCloseTo(v[8 * 15 + 7] as number, 7);
    expect(v[7 * 15 + 7]).toBeLessThan(1);
    tf.dispose([x, y]);
  });

  it('sigma 0 returns a copy', async () => {
    await selectBackend(backend);
    const x = tf.tensor4d([1, 2, 3, 4], [1, 2, 2, 1]);
    const y = gaussianBlur(x, 0);
    expect(y).not.toBe(x);
    expect(Array.from(y.dataSync())).toEqual([1, 2, 3, 4]);
  });
});

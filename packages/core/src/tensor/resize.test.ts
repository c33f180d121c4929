import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-core/dist/public/chained_ops/register_all_chained_ops';
import { describe, expect, it } from 'vitest';
import { countTensors, expectClose } from '../../../testing/src/index.js';
import { selectBackend } from '../backend.js';
import { resizeBilinear, resizeNearest } from './resize.js';

describe.each(['cpu', 'wasm'] as const)('resize on %s', (backend) => {
  it('resizeBilinear uses half-pixel centres (PyTorch align_corners=False)', async () => {
    await selectBackend(backend);
    const x = tf.tensor3d([[[1, 2], [3, 4]]]); // [1, 2, 2]
    const before = countTensors();
    const y = resizeBilinear(x, [4, 4]);
    expect(countTensors()).toBe(before + 1);
    expect(y.shape).toEqual([1, 4, 4]);
    expectClose(y, [
      [1, 1.25, 1.75, 2],
      [1.5, 1.75, 2.25, 2.5],
      [2.5, 2.75, 3.25, 3.5],
      [3, 3.25, 3.75, 4],
    ], { rtol: 0, atol: 1e-6 });
    tf.dispose([x, y]);
  });

  it('resizeBilinear keeps channels apart, handles non-square sizes and downsamples by averaging', async () => {
    await selectBackend(backend);
    const x = tf.tensor4d([1, 10, 2, 20, 3, 30, 4, 40], [1, 2, 2, 2]);
    const y = resizeBilinear(x, [4, 4]);
    expect(y.shape).toEqual([1, 4, 4, 2]);
    expectClose(y.slice([0, 0, 0, 0], [1, 1, 4, 1]), [1, 1.25, 1.75, 2], { rtol: 0, atol: 1e-6 });
    expectClose(y.slice([0, 0, 0, 1], [1, 1, 4, 1]), [10, 12.5, 17.5, 20], { rtol: 0, atol: 1e-5 });
    const z = resizeBilinear(tf.tensor3d([[[1, 3, 5, 7]]]), [1, 2]); // 4 -> 2: centres at 0.5, 2.5
    expectClose(z, [2, 6], { rtol: 0, atol: 1e-6 });
    const w = resizeBilinear(tf.tensor3d([[[1, 2]]]), [3, 4]); // rows replicate, columns interpolate
    expectClose(w, [1, 1.25, 1.75, 2, 1, 1.25, 1.75, 2, 1, 1.25, 1.75, 2], { rtol: 0, atol: 1e-6 });
  });

  it('resizing to the same size returns a copy', async () => {
    await selectBackend(backend);
    const x = tf.tensor3d([[[1, 2], [3, 4]]]);
    const y = resizeBilinear(x, [2, 2]);
    expect(y).not.toBe(x);
    x.dispose();
    expect(Array.from(y.dataSync())).toEqual([1, 2, 3, 4]);
  });

  it('resizeNearest picks source index floor(dst * in / out)', async () => {
    await selectBackend(backend);
    const x = tf.tensor3d([[[1, 2], [3, 4]]]);
    expect(Array.from(resizeNearest(x, [4, 4]).dataSync())).toEqual([1, 1, 2, 2, 1, 1, 2, 2, 3, 3, 4, 4, 3, 3, 4, 4]);
    const row = tf.tensor3d([[[1, 2, 3, 4, 5, 6]]]);
    expect(Array.from(resizeNearest(row, [1, 4]).dataSync())).toEqual([1, 2, 4, 5]);
    expect(Array.from(resizeNearest(row, [1, 3]).dataSync())).toEqual([1, 3, 5]);
    expect(resizeNearest(tf.zeros([2, 3, 3, 2]), [6, 5]).shape).toEqual([2, 6, 5, 2]);
  });
});

describe('resizeBilinear with alignCorners', () => {
  it('puts the corners of input and output on each other (PyTorch align_corners=True)', async () => {
    await selectBackend('wasm');
    const x = tf.tensor3d([[[1, 2], [3, 4]]]);
    const y = resizeBilinear(x, [3, 3], { alignCorners: true });
    // Corners kept, midpoints averaged: [[1, 1.5, 2], [2, 2.5, 3], [3, 3.5, 4]].
    expect(Array.from(y.dataSync())).toEqual([1, 1.5, 2, 2, 2.5, 3, 3, 3.5, 4]);
    tf.dispose([x, y]);
  });
});

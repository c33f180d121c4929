import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-core/dist/public/chained_ops/register_all_chained_ops';
import { beforeAll, describe, expect, it } from 'vitest';
import { expectClose } from '../../../testing/src/index.js';
import { selectBackend } from '../backend.js';
import { minMaxScale, normalize, sumChannels } from './normalize.js';

describe('normalize utilities', () => {
  beforeAll(async () => {
    await selectBackend('wasm');
  });

  it('minMaxScale scales each image to [0, 1] on its own', () => {
    const x = tf.tensor3d([[[1, 3], [5, 9]], [[-2, -2], [0, 2]]]);
    expectClose(minMaxScale(x, 0), [0, 0.25, 0.5, 1, 0, 0, 0.5, 1], { rtol: 0, atol: 1e-6 });
    // eps keeps a constant map finite (all zeros).
    expect(Array.from(minMaxScale(tf.fill([1, 2, 2], 3)).dataSync())).toEqual([0, 0, 0, 0]);
  });

  it('sumChannels sums NHWC over C and passes NHW through', () => {
    const x = tf.tensor4d([1, 2, 3, 4, 5, 6, 7, 8], [1, 2, 2, 2]);
    expect(Array.from(sumChannels(x).dataSync())).toEqual([3, 7, 11, 15]);
    expect(sumChannels(x).shape).toEqual([1, 2, 2]);
    const y = tf.tensor3d([[[1, 2]]]);
    expect(Array.from(sumChannels(y).dataSync())).toEqual([1, 2]);
  });

  it('normalize standardises per channel', () => {
    const x = tf.tensor4d([1, 10, 3, 30], [1, 1, 2, 2]);
    expectClose(normalize(x, [1, 10], [2, 10]), [0, 0, 1, 2], { rtol: 0, atol: 1e-6 });
    expectClose(normalize(x, 1, 2), [0, 4.5, 1, 14.5], { rtol: 0, atol: 1e-6 });
  });
});

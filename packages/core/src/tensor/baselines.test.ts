import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-core/dist/public/chained_ops/register_all_chained_ops';
import { beforeAll, describe, expect, it } from 'vitest';
import { countTensors, expectClose, randomInput } from '../../../testing/src/index.js';
import { selectBackend } from '../backend.js';
import { CnnXaiError } from '../errors.js';
import { createRandom } from '../random.js';
import { makeBaseline, BASELINES } from './baselines.js';
import { gaussianBlur } from './blur.js';

describe('makeBaseline', () => {
  let x: tf.Tensor4D;
  beforeAll(async () => {
    await selectBackend('wasm');
    x = randomInput([2, 10, 12, 3], 1);
  });

  const check = (b: tf.Tensor): void => {
    expect(b.shape).toEqual(x.shape);
    expect(b.dtype).toBe('float32');
  };

  it('names every baseline in BASELINES', () => {
    expect([...BASELINES]).toEqual(['zeros', 'blur', 'uniform', 'mean']);
  });

  it('zeros (also the default)', () => {
    for (const name of ['zeros', undefined]) {
      const b = makeBaseline(x, name);
      check(b);
      expect(tf.tidy(() => tf.max(tf.abs(b)).dataSync()[0])).toBe(0);
      b.dispose();
    }
  });

  it('blur is the input blurred with sigma = shorter side / 10 (at least 1), or the given sigma', () => {
    const b = makeBaseline(x, 'blur');
    check(b);
    expectClose(b, gaussianBlur(x, 1), { rtol: 0, atol: 1e-6 });
    const big = tf.tidy(() => tf.image.resizeNearestNeighbor(x, [30, 40]) as tf.Tensor4D);
    expectClose(makeBaseline(big, 'blur'), gaussianBlur(big, 3), { rtol: 0, atol: 1e-6 });
    expectClose(makeBaseline(x, 'blur', { sigma: 2 }), gaussianBlur(x, 2), { rtol: 0, atol: 1e-6 });
    expect(tf.tidy(() => tf.max(tf.abs(tf.sub(b, x))).dataSync()[0])).toBeGreaterThan(0.05);
  });

  it('uniform: seeded values in the range; same seed same baseline', () => {
    const a = makeBaseline(x, 'uniform', { random: createRandom(5), range: [-1, 2] });
    const b = makeBaseline(x, 'uniform', { random: createRandom(5), range: [-1, 2] });
    const c = makeBaseline(x, 'uniform', { random: createRandom(6), range: [-1, 2] });
    check(a);
    expectClose(a, b, { rtol: 0, atol: 0 });
    expect(Array.from(a.dataSync())).not.toEqual(Array.from(c.dataSync()));
    const v = a.dataSync();
    expect(Math.min(...v)).toBeGreaterThanOrEqual(-1);
    expect(Math.max(...v)).toBeLessThan(2);
    expect(Math.min(...v)).toBeLessThan(-0.9);
    const unseeded = makeBaseline(x, 'uniform');
    check(unseeded);
    expect(Math.max(...unseeded.dataSync())).toBeLessThan(1);
  });

  it("mean: each image's per-channel mean everywhere", () => {
    const b = makeBaseline(x, 'mean');
    check(b);
    const data = x.arraySync();
    const got = b.arraySync();
    for (let n = 0; n < 2; n++) {
      for (let c = 0; c < 3; c++) {
        let s = 0;
        for (const row of data[n] as number[][][]) for (const px of row) s += px[c] as number;
        const mean = s / (10 * 12);
        expect(got[n]?.[0]?.[0]?.[c]).toBeCloseTo(mean, 5);
        expect(got[n]?.[9]?.[11]?.[c]).toBeCloseTo(mean, 5);
      }
    }
  });

  it('a number is a constant baseline', () => {
    const b = makeBaseline(x, 0.25);
    check(b);
    expect(new Set(b.dataSync())).toEqual(new Set([0.25]));
  });

  it('arrays: one image (broadcast), the whole batch, nested arrays, typed arrays and tensors', () => {
    const per = 10 * 12 * 3;
    const one = Array.from({ length: per }, (_, i) => i / per);
    const b1 = makeBaseline(x, one);
    check(b1);
    expectClose(b1.slice(0, 1), one, { rtol: 0, atol: 1e-7 });
    expectClose(b1.slice(1, 1), one, { rtol: 0, atol: 1e-7 });
    const all = Array.from({ length: 2 * per }, (_, i) => i);
    expectClose(makeBaseline(x, all), all, { rtol: 0, atol: 0 });
    const nested = tf.tidy(() => tf.fill([10, 12, 3], 0.5).arraySync());
    expect(new Set(makeBaseline(x, nested).dataSync())).toEqual(new Set([0.5]));
    expectClose(makeBaseline(x, Float32Array.from(one)), b1, { rtol: 0, atol: 0 });
    const t = tf.tensor3d(Float32Array.from(one), [10, 12, 3]);
    expectClose(makeBaseline(x, t), b1, { rtol: 0, atol: 0 });
    const ints = tf.ones([1, 10, 12, 3], 'int32');
    expect(makeBaseline(x, ints).dtype).toBe('float32');
  });

  it.each([
    ['an unknown name', 'gray'],
    ['an array of the wrong size', [1, 2, 3]],
    ['a tensor that does not broadcast', 'tensor'],
    ['an object', { a: 1 }],
  ])('%s is BAD_OPTION_VALUE and leaks nothing', (_, value) => {
    const bad = value === 'tensor' ? tf.zeros([3, 10, 12, 3]) : value;
    const before = countTensors();
    let error: unknown;
    try {
      makeBaseline(x, bad);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(CnnXaiError);
    expect((error as CnnXaiError).code).toBe('BAD_OPTION_VALUE');
    expect(countTensors()).toBe(before);
    if (bad instanceof tf.Tensor) bad.dispose();
  });
});

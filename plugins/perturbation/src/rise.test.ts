import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { blackBox, CnnXaiError, createRandom, explain, ModelTap, resizeBilinear, selectBackend } from '@cnn-xai/core';
import { countTensors, expectClose, inputFor, linearModel, tinyVgg } from '@cnn-xai/testing';
import { drawRiseMasks, rise, riseMasks } from './index.js';

async function errorOf(p: Promise<unknown>): Promise<CnnXaiError> {
  try {
    await p;
  } catch (e) {
    expect(e).toBeInstanceOf(CnnXaiError);
    return e as CnnXaiError;
  }
  throw new Error('expected a rejection');
}

/** A black box whose two scores are [c, -c] for every image. */
const constantBox = (c: number, shape: [number, number, number]) =>
  blackBox((x) => tf.tidy(() => tf.mul(tf.ones([x.shape[0], 2]), tf.tensor1d([c, -c]))), { inputShape: shape, numClasses: 2 });

async function valuesOf(p: ReturnType<typeof explain>): Promise<Float32Array> {
  const r = await p;
  try {
    return Float32Array.from(await r.values.data());
  } finally {
    r.dispose();
  }
}

describe('rise', () => {
  beforeAll(async () => {
    await selectBackend('wasm');
  });

  it('masks: grid upsampled bilinearly (half-pixel centres) to (s + 1) * ceil(H / s), cropped at the shift', async () => {
    const set = drawRiseMasks(createRandom(3), 6, 4, 0.5, [10, 13]);
    expect(set.cell).toEqual([3, 4]);
    const ours = riseMasks(set);
    expect(ours.shape).toEqual([6, 10, 13]);
    // The same masks with tf.image.resizeBilinear and a slice.
    const grids = tf.tensor4d(set.grids, [6, 4, 4, 1]);
    const up = resizeBilinear(grids, [15, 20]) as tf.Tensor4D;
    const crops = Array.from({ length: 6 }, (_, i) =>
      tf.slice(up, [i, set.shifts[2 * i] as number, set.shifts[2 * i + 1] as number, 0], [1, 10, 13, 1]),
    );
    const want = tf.reshape(tf.concat(crops, 0), [6, 10, 13]);
    expectClose(ours, want, { atol: 1e-6, rtol: 0, what: 'masks' });
    tf.dispose([ours, grids, up, want, ...crops]);
  });

  it("a constant model gives its constant: exactly with realized normalization, within the Monte Carlo error with the paper's", async () => {
    const shape: [number, number, number] = [9, 11, 2];
    const box = constantBox(2.5, shape);
    const x = tf.randomUniform([2, ...shape], 0, 1, 'float32', 1) as tf.Tensor4D;
    const before = countTensors();
    const options = { samples: 400, cells: 3, scores: 'logit', batchSize: 64 };
    const exact = await valuesOf(explain(rise, { model: box, input: x, target: 0, options: { ...options, normalization: 'realized' } }));
    expectClose(exact, new Float32Array(exact.length).fill(2.5), { rtol: 1e-5, atol: 0, what: 'realized' });
    // S = c * mean_i M_i(pixel) / p with E[M_i(pixel)] = p and Var <= p (1 - p): a pixel's
    // standard error is at most c * sqrt((1 - p) / (p N)); allow 5 of them.
    for (const p of [0.5, 0.2]) {
      const paper = await valuesOf(explain(rise, { model: box, input: x, target: 0, options: { ...options, p } }));
      const bound = 5 * 2.5 * Math.sqrt((1 - p) / (p * 400));
      const worst = paper.reduce((m, v) => Math.max(m, Math.abs(v - 2.5)), 0);
      expect(worst, `p = ${p}`).toBeLessThan(bound);
      const mean = paper.reduce((a, v) => a + v, 0) / paper.length;
      expect(Math.abs(mean - 2.5)).toBeLessThan(bound / 2);
    }
    // Softmax of the constant scores [c, -c]: the target's probability, a constant too.
    const soft = await valuesOf(explain(rise, { model: box, input: x, target: 1, options: { ...options, scores: 'softmax', normalization: 'realized' } }));
    const q = Math.exp(-2.5) / (Math.exp(2.5) + Math.exp(-2.5));
    expectClose(soft, new Float32Array(soft.length).fill(q), { rtol: 1e-4, atol: 0, what: 'softmax' });
    expect(countTensors()).toBe(before);
    x.dispose();
  });

  it('is linear in f: 2f gives exactly twice the map under the same seed', async () => {
    const model = tinyVgg();
    const tap = ModelTap.from(model);
    const x = inputFor(model, 2, 5);
    const shape = { inputShape: [16, 16, 1] };
    const f = blackBox((b) => tap.predict(b), shape);
    const twice = blackBox((b) => tf.tidy(() => tf.mul(tap.predict(b), 2)), shape);
    const half = blackBox((b) => tf.tidy(() => tap.predict(tf.mul(b, 0.5))), shape);
    const sum = blackBox((b) => tf.tidy(() => tf.add(tap.predict(b), tap.predict(tf.mul(b, 0.5)))), shape);
    const options = { samples: 48, cells: 4, scores: 'logit', batchSize: 20 };
    const a = await valuesOf(explain(rise, { model: f, input: x, target: [1, 3], options, seed: 11 }));
    const b = await valuesOf(explain(rise, { model: twice, input: x, target: [1, 3], options, seed: 11 }));
    expect(Array.from(b)).toEqual(Array.from(a, (v) => 2 * v));
    // Additive as well: S[f + g] = S[f] + S[g] (to float rounding).
    const g = await valuesOf(explain(rise, { model: half, input: x, target: [1, 3], options, seed: 11 }));
    const fg = await valuesOf(explain(rise, { model: sum, input: x, target: [1, 3], options, seed: 11 }));
    expectClose(fg, a.map((v, i) => v + (g[i] as number)), { rtol: 1e-5, atol: 1e-6, what: 'S[f + g]' });
    x.dispose();
    tap.dispose();
    model.dispose();
  });

  it('deterministic under a seed, different for another seed, and independent of batchSize', async () => {
    const model = linearModel({ inputShape: [8, 8, 1], classes: 3 });
    const x = inputFor(model, 2, 2);
    const opts = { samples: 40, cells: 3, batchSize: 16 };
    const a = await valuesOf(explain(rise, { model, input: x, options: opts, seed: 5 }));
    const a2 = await valuesOf(explain(rise, { model, input: x, options: opts, seed: 5 }));
    const other = await valuesOf(explain(rise, { model, input: x, options: opts, seed: 6 }));
    const viaOption = await valuesOf(explain(rise, { model, input: x, options: { ...opts, seed: 6 }, seed: 5 }));
    const rebatched = await valuesOf(explain(rise, { model, input: x, options: { ...opts, batchSize: 7 }, seed: 5 }));
    expect(Array.from(a2)).toEqual(Array.from(a));
    expect(Array.from(other)).not.toEqual(Array.from(a));
    expect(Array.from(viaOption)).toEqual(Array.from(other));
    expectClose(rebatched, a, { rtol: 1e-5, what: 'batchSize 7 vs 16' });
    x.dispose();
    model.dispose();
  });

  it('a model that reads one pixel puts the peak on that pixel; extras hold the masks', async () => {
    // f(x) = [x at (5, 2), 0]: S(pixel) = (1 / (N p)) sum_i x(5, 2) M_i(5, 2) M_i(pixel), largest at (5, 2).
    const box = blackBox((b) => tf.tidy(() => tf.concat([tf.reshape(tf.slice(b, [0, 5, 2, 0], [-1, 1, 1, 1]), [-1, 1]), tf.zeros([b.shape[0], 1])], 1)), {
      inputShape: [12, 12, 1],
    });
    const x = tf.ones([1, 12, 12, 1]);
    const r = await explain(rise, { model: box, input: x, target: 0, options: { samples: 600, cells: 4, scores: 'logit' } });
    const v = await r.values.data();
    const peak = Array.prototype.indexOf.call(v, Math.max(...v)) as number;
    // Smooth masks make neighbours nearly as likely to be kept together: the peak is at the
    // pixel or next to it, and pixels far away (kept independently) get about p / p = 1 / 2 of it.
    expect(Math.abs(Math.floor(peak / 12) - 5)).toBeLessThanOrEqual(1);
    expect(Math.abs((peak % 12) - 2)).toBeLessThanOrEqual(1);
    const at = v[5 * 12 + 2] as number;
    expect(at).toBeGreaterThan(0.95 * (v[peak] as number));
    const far = Array.from(v).filter((_, i) => Math.abs(Math.floor(i / 12) - 5) + Math.abs((i % 12) - 2) > 8);
    expect(far.reduce((a, b) => a + b, 0) / far.length).toBeLessThan(0.8 * at);
    expect(r.signed).toBe(true);
    const grids = r.extras['grids'] as tf.Tensor;
    const shifts = r.extras['shifts'] as tf.Tensor;
    expect(grids.shape).toEqual([600, 4, 4]);
    expect(shifts.shape).toEqual([600, 2]);
    expect(r.extras['cell']).toEqual([3, 3]);
    const kept = Array.from(await grids.data()).reduce((a, b) => a + b, 0) / grids.size;
    expect(Math.abs(kept - 0.5)).toBeLessThan(0.05);
    r.dispose();
    x.dispose();
  });

  it('softmax scores give an unsigned map on a LayersModel; bad options are typed errors', async () => {
    const model = tinyVgg();
    const x = inputFor(model, 1, 3);
    const r = await explain(rise, { model, input: x, options: { samples: 20, batchSize: 8 } });
    expect(r.signed).toBe(false);
    expect(r.values.shape).toEqual([1, 16, 16]);
    expect(Math.min(...(await r.values.data()))).toBeGreaterThanOrEqual(0);
    r.dispose();
    const before = countTensors();
    const cells = await errorOf(explain(rise, { model, input: x, options: { cells: 17 } }));
    expect(cells.code).toBe('BAD_OPTION_VALUE');
    expect(cells.message).toContain('16 x 16');
    expect((await errorOf(explain(rise, { model, input: x, options: { p: 0 } }))).code).toBe('BAD_OPTION_VALUE');
    expect((await errorOf(explain(rise, { model, input: x, options: { scores: 'probability' } }))).code).toBe('BAD_OPTION_VALUE');
    expect(countTensors()).toBe(before);
    x.dispose();
    model.dispose();
  });
});

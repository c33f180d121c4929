import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { explain, ModelTap, selectBackend } from '@cnn-xai/core';
import { countTensors, inputFor, linearModel, randomInput, tinyVgg } from '@cnn-xai/testing';
import { gradientShap } from './gradient-shap.js';

const rms = (v: readonly number[]): number => Math.sqrt(v.reduce((s, q) => s + q * q, 0) / v.length);

describe('gradient-shap', () => {
  beforeAll(async () => {
    await selectBackend('wasm');
  });

  it('is exact per sample on a linear model (every sample delta ~ 0) for every kind of baseline, with noise', async () => {
    const model = linearModel();
    const x = inputFor(model, 2, 4);
    const background = randomInput([3, 4, 4, 1], 9);
    for (const baseline of ['zeros', 'blur', 'mean', 'uniform', 0.5, background] as const) {
      const r = await explain(gradientShap, { model, input: x, target: [0, 2], options: { baseline, samples: 6, noise: 0.2, batchSize: 5 } });
      const deltas = r.extras['sampleDeltas'] as number[];
      expect(deltas).toHaveLength(12);
      for (const d of deltas) expect(Math.abs(d)).toBeLessThan(1e-5);
      for (const d of r.extras['delta'] as number[]) expect(Math.abs(d)).toBeLessThan(1e-5);
      r.dispose();
    }
    // Zeros baseline, no noise: (x - 0) * W[:, c] exactly, whatever alpha was drawn.
    const r = await explain(gradientShap, { model, input: x, target: [0, 2] });
    const w = tf.tidy(() => {
      const kernel = model.getLayer('logits').getWeights()[0] as tf.Tensor2D;
      return tf.reshape(tf.transpose(tf.gather(kernel, [0, 2], 1)), [2, 4, 4, 1]);
    });
    const want = tf.tidy(() => tf.mul(x, w).dataSync());
    const got = await r.values.data();
    want.forEach((v, i) => expect(got[i]).toBeCloseTo(v, 6));
    tf.dispose([w, x, background]);
    r.dispose();
    model.dispose();
  });

  it('the convergence delta shrinks like 1/sqrt(samples) on tinyVgg (mean of per-sample deltas whose expectation is 0)', async () => {
    const model = tinyVgg();
    const tap = ModelTap.from(model);
    const x = inputFor(model, 6, 5);
    const target = [0, 1, 2, 3, 0, 1];
    const few = await explain(gradientShap, { model: tap, input: x, target, seed: 1, options: { samples: 4 } });
    const many = await explain(gradientShap, { model: tap, input: x, target, seed: 2, options: { samples: 64, batchSize: 128 } });
    const sigma = rms(many.extras['sampleDeltas'] as number[]); // spread of one sample's delta
    const dFew = rms(few.extras['delta'] as number[]);
    const dMany = rms(many.extras['delta'] as number[]);
    console.log(`gradient-shap on tinyVgg: per-sample delta rms ${sigma.toExponential(2)}; |delta| rms with 4 samples ${dFew.toExponential(2)}, with 64 ${dMany.toExponential(2)}`);
    expect(sigma).toBeGreaterThan(1e-3); // the network is not linear: single samples do not add up
    expect(dMany).toBeLessThan(0.5 * dFew);
    expect(dMany).toBeLessThan((3 * sigma) / Math.sqrt(64));
    // The base value is the mean score of the baselines (all zeros here: the same for each sample).
    const f0 = tf.tidy(() => Array.from(tap.predict(tf.zeros([1, 16, 16, 1])).dataSync()));
    (many.extras['baseValue'] as number[]).forEach((b, i) => expect(b).toBeCloseTo(f0[target[i] as number] as number, 5));
    tf.dispose([x]);
    few.dispose();
    many.dispose();
    tap.dispose();
    model.dispose();
  });

  it('is deterministic under a seed, differs between seeds; a background set of one zero image equals the zeros baseline', async () => {
    const model = tinyVgg();
    const tap = ModelTap.from(model);
    const x = inputFor(model, 2, 6);
    const run = async (seed: number, options: Record<string, unknown>) => {
      const r = await explain(gradientShap, { model: tap, input: x, target: [1, 2], seed, options });
      const v = Array.from(await r.values.data());
      const base = r.extras['baseValue'] as number[];
      r.dispose();
      return { v, base };
    };
    const a = await run(3, { noise: 0.1, samples: 4 });
    const b = await run(3, { noise: 0.1, samples: 4, batchSize: 3 });
    const c = await run(4, { noise: 0.1, samples: 4 });
    expect(b.v).toEqual(a.v.map((q) => expect.closeTo(q, 6)));
    expect(c.v).not.toEqual(a.v);
    const zeros = await run(5, { samples: 3 });
    const set = tf.zeros([1, 16, 16, 1]);
    const fromSet = await run(5, { samples: 3, baseline: set });
    expect(fromSet.v).toEqual(zeros.v);
    // A background set: each sample's baseline is one of its images (base value = mean of their scores).
    const bg = randomInput([3, 16, 16, 1], 8);
    const r = await run(6, { samples: 5, baseline: bg });
    const scores = tf.tidy(() => tap.predict(bg).arraySync() as number[][]);
    // Each image's base value is the mean of 5 of these scores, so it lies between their min and max.
    [1, 2].forEach((cls, i) => {
      const s = scores.map((row) => row[cls] as number);
      expect(r.base[i]).toBeGreaterThanOrEqual(Math.min(...s) - 1e-5);
      expect(r.base[i]).toBeLessThanOrEqual(Math.max(...s) + 1e-5);
    });
    tf.dispose([x, set, bg]);
    tap.dispose();
    model.dispose();
  });

  it('a background set that does not fit the input is BAD_OPTION_VALUE and leaks nothing', async () => {
    const model = tinyVgg();
    const x = inputFor(model, 1, 6);
    const wrong = tf.zeros([2, 8, 8, 1]);
    const before = countTensors();
    await expect(explain(gradientShap, { model, input: x, options: { baseline: wrong } })).rejects.toMatchObject({ code: 'BAD_OPTION_VALUE' });
    await expect(explain(gradientShap, { model, input: x, options: { baseline: [1, 2, 3] } })).rejects.toMatchObject({ code: 'BAD_OPTION_VALUE' });
    expect(countTensors()).toBe(before);
    tf.dispose([x, wrong]);
    model.dispose();
  });
});

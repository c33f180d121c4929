/**
 * The defining properties of LIME and KernelSHAP (METHODS.md 1.10, 1.11) on black-box models
 * whose answers are known by hand: an additive model over 9 grid cells, the same with pairwise
 * and triple interactions, and a small CNN.
 */
import * as tf from '@tensorflow/tfjs-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { blackBox, explain, isCnnXaiError, selectBackend, type Attribution, type ScoresFunction } from '@cnn-xai/core';
import { expectNoLeakedTensors, randomInput, tinyVgg } from '@cnn-xai/testing';
import type { LayersModel } from '@tensorflow/tfjs-layers';
import { gridMask, kernelShap, lime, limeCoalitions, shapleyCoalitions, shapleyKernel, binom } from './index.js';

const H = 12;
const W = 12;
/** 12 x 12 images, grid cells of 4 pixels: 9 features, id = (r // 4) * 3 + c // 4. */
const CELL = gridMask(H, W, 4);
const M = 9;
const B = 0.7;
/** Additive weights; feature 8 does nothing, features 0 and 1 are symmetric. */
const WEIGHTS = [1.5, 1.5, -2, 0.5, 3, -1, 2, 0.25, 0];

let x: tf.Tensor4D;
let presence: tf.Tensor2D;

beforeAll(async () => {
  await selectBackend('wasm');
  // A positive image, so that "present" (the image) and "hidden" (zeros) differ in every cell.
  x = tf.tidy(() => tf.add(tf.mul(randomInput([1, H, W, 1], 3, { flat: false }), 0.5), 0.5) as tf.Tensor4D);
  // presence[p, s] = 1 / (x_p * |cell s|) on the pixels of cell s: batch . presence gives, per
  // image and cell, the fraction of the cell's original signal that is present (1 or 0 here).
  const px = await x.data();
  const p = new Float32Array(H * W * M);
  for (let i = 0; i < H * W; i++) p[i * M + (CELL[i] as number)] = 1 / ((px[i] as number) * 16);
  presence = tf.tensor2d(p, [H * W, M]);
});

afterAll(() => tf.dispose([x, presence]));

/** Per image, the presence of each of the 9 cells: [N, 9]. */
const cells = (batch: tf.Tensor4D): tf.Tensor2D => tf.matMul(tf.reshape(batch, [batch.shape[0], H * W]), presence);

/** Scores [N, 2]: class 0 is `score`, class 1 its negative. */
const twoClasses = (score: (z: tf.Tensor2D) => tf.Tensor1D): ScoresFunction => (batch) =>
  tf.tidy(() => {
    const s = score(cells(batch));
    return tf.stack([s, tf.neg(s)], 1);
  });

/** f = b + sum_s w_s z_s. */
const additive = twoClasses((z) => tf.add(tf.sum(tf.mul(z, tf.tensor1d(WEIGHTS)), 1), B) as tf.Tensor1D);

/** The additive model plus 2 z0 z1 - 1.5 z2 z3 z4 + 0.8 z5 z6 (features 0 and 1 stay symmetric, 8 a dummy). */
const col = (z: tf.Tensor2D, j: number): tf.Tensor1D => tf.reshape(tf.slice(z, [0, j], [-1, 1]), [-1]) as tf.Tensor1D;
const interacting = twoClasses((z) => {
  const lin = tf.add(tf.sum(tf.mul(z, tf.tensor1d(WEIGHTS)), 1), B);
  const pair = tf.mul(2, tf.mul(col(z, 0), col(z, 1)));
  const triple = tf.mul(-1.5, tf.mul(tf.mul(col(z, 2), col(z, 3)), col(z, 4)));
  const pair2 = tf.mul(0.8, tf.mul(col(z, 5), col(z, 6)));
  return tf.addN([lin, pair, triple, pair2]) as tf.Tensor1D;
});
/** Shapley values of `interacting` by hand: an interaction's value is shared equally by its features. */
const INTERACTING_PHI = WEIGHTS.map((w, s) => w + ([0, 1].includes(s) ? 1 : [2, 3, 4].includes(s) ? -0.5 : [5, 6].includes(s) ? 0.4 : 0));

async function run(
  ex: typeof lime | typeof kernelShap,
  fn: ScoresFunction,
  options: Record<string, unknown>,
  target = 0,
): Promise<{ values: Float32Array; extras: Attribution['extras'] }> {
  const model = blackBox(fn, { inputShape: [H, W, 1], batchSize: 128 });
  const r = await explain(ex, { model, input: x, target, options, seed: 11 });
  try {
    return { values: (await r.values.data()) as Float32Array, extras: r.extras };
  } finally {
    r.dispose();
  }
}

const grid = { features: 'grid', grid: 4, baseline: 'zeros' };

/** Image 0's entry of a per-image extra holding one array per image (phi, weights). */
const first = (extras: Attribution['extras'], key: string): number[] => (extras[key] as unknown as number[][])[0] as number[];

describe('kernel-shap', () => {
  it('the Shapley kernel and the enumerated coalitions: all 2^M - 2, weights by the kernel, summing to 1', () => {
    expect(binom(9, 4)).toBe(126);
    expect(binom(200, 100)).toBeCloseTo(9.054851465610328e58, -45);
    const c = shapleyCoalitions(M, 510, 0);
    expect(c.exact).toBe(true);
    expect(c.rows).toBe(510);
    const keys = new Set<string>();
    let sum = 0;
    for (let r = 0; r < c.rows; r++) {
      const z = c.z.subarray(r * M, (r + 1) * M);
      const k = z.reduce((a, b) => a + b, 0);
      expect(k > 0 && k < M).toBe(true);
      keys.add(z.join(''));
      // Weight proportional to the Shapley kernel (M-1) / (C(M,k) k (M-k)).
      expect((c.weights[r] as number) / shapleyKernel(M, k)).toBeCloseTo((c.weights[0] as number) / shapleyKernel(M, 1), 12);
      sum += c.weights[r] as number;
    }
    expect(keys.size).toBe(510);
    expect(sum).toBeCloseTo(1, 12);
  });

  it('sampled coalitions: within budget, paired with their complements, weights summing to 1, seeded', () => {
    const m = 16;
    const c = shapleyCoalitions(m, 198, 5);
    expect(c.exact).toBe(false);
    expect(c.rows).toBe(198);
    // The 32 coalitions of sizes 1 and 15 are enumerated first (SHAP's budget rule).
    for (let r = 0; r < 32; r++) {
      const k = c.z.subarray(r * m, (r + 1) * m).reduce((a, b) => a + b, 0);
      expect([1, 15]).toContain(k);
    }
    for (let r = 32; r + 1 < c.rows; r += 2) {
      const a = c.z.subarray(r * m, (r + 1) * m);
      const b = c.z.subarray((r + 1) * m, (r + 2) * m);
      const k = a.reduce((s, v) => s + v, 0);
      if (k === m / 2) break; // the middle size is not paired; it comes last in no fixed place
      expect(Array.from(a, (v, j) => v + (b[j] as number)).every((v) => v === 1), `row ${r} is paired with its complement`).toBe(true);
    }
    expect(c.weights.reduce((s, v) => s + v, 0)).toBeCloseTo(1, 12);
    expect(Array.from(shapleyCoalitions(m, 198, 5).z)).toEqual(Array.from(c.z));
    expect(Array.from(shapleyCoalitions(m, 198, 6).z)).not.toEqual(Array.from(c.z));
  });

  it('recovers an additive model exactly with full enumeration; the dummy feature gets 0', async () => {
    const { values, extras } = await run(kernelShap, additive, { ...grid, samples: 510 });
    expect(extras['exact']).toEqual([true]);
    const phi = first(extras, 'phi');
    WEIGHTS.forEach((w, s) => expect(Math.abs((phi[s] as number) - w), `phi[${s}]`).toBeLessThan(1e-5));
    expect(Math.abs(phi[8] as number)).toBeLessThan(1e-5);
    expect((extras['baseValue'] as number[])[0]).toBeCloseTo(B, 5);
    // The map gives each pixel its cell's value.
    for (let p = 0; p < H * W; p++) expect(values[p]).toBeCloseTo(phi[CELL[p] as number] as number, 6);
  });

  it('gives the hand-computed Shapley values of a model with interactions (exact); symmetric features get equal values', async () => {
    const { extras } = await run(kernelShap, interacting, { ...grid, samples: 1000 });
    const phi = first(extras, 'phi');
    INTERACTING_PHI.forEach((v, s) => expect(Math.abs((phi[s] as number) - v), `phi[${s}] = ${phi[s]}, expected ${v}`).toBeLessThan(1e-5));
    expect(Math.abs((phi[0] as number) - (phi[1] as number))).toBeLessThan(1e-6);
    expect(Math.abs(phi[8] as number)).toBeLessThan(1e-5);
  });

  it('efficiency: the values add up to f(x) - f(baseline) to float tolerance, also when sampling (16 cells of a CNN)', async () => {
    const model: LayersModel = tinyVgg({ inputShape: [H, W, 1] });
    try {
      const fn: ScoresFunction = (b) => model.predict(b) as tf.Tensor;
      for (const options of [
        { features: 'grid', grid: 3, samples: 60, baseline: 'zeros' },
        { features: 'slic', segments: 12, samples: 60, baseline: 'segment-mean' },
        { features: 'grid', grid: 3, samples: 60, baseline: 'blur', enumerate: false },
      ]) {
        const m = blackBox(fn, { inputShape: [H, W, 1] });
        const r = await explain(kernelShap, { model: m, input: x, target: 1, options });
        const phi = first(r.extras, 'phi');
        const total = ((r.extras['score'] as number[])[0] as number) - ((r.extras['baseValue'] as number[])[0] as number);
        const sum = phi.reduce((a, b) => a + b, 0);
        if (options.features === 'grid') expect(r.extras['exact']).toEqual([false]);
        expect(Math.abs(sum - total), `${JSON.stringify(options)}: sum ${sum} vs ${total}`).toBeLessThan(1e-9 * Math.max(1, Math.abs(total)));
        r.dispose();
      }
    } finally {
      model.dispose();
    }
  });

  it('on a CNN, exact enumeration equals the Shapley formula computed by brute force over all 2^9 coalitions', async () => {
    const model: LayersModel = tinyVgg({ inputShape: [H, W, 1], activation: 'relu' });
    try {
      const fn: ScoresFunction = (b) => model.predict(b) as tf.Tensor;
      const target = 2;
      const { extras } = await run(kernelShap, fn, { ...grid, samples: 600 }, target);
      // Brute force: f of every coalition, then phi_i = sum_S |S|! (M-|S|-1)! / M! (f(S + i) - f(S)).
      const masks = tf.tidy(() => {
        const rows: number[] = [];
        for (let s = 0; s < 1 << M; s++) for (let p = 0; p < H * W; p++) rows.push((s >> (CELL[p] as number)) & 1);
        return tf.tensor4d(rows, [1 << M, H, W, 1]);
      });
      const scores = tf.tidy(() => tf.reshape(tf.slice(fn(tf.mul(masks, x) as tf.Tensor4D) as tf.Tensor2D, [0, target], [-1, 1]), [-1]));
      const f = await scores.data();
      tf.dispose([masks, scores]);
      const fact = (k: number): number => (k <= 1 ? 1 : k * fact(k - 1));
      const exact = Array.from({ length: M }, (_, i) => {
        let v = 0;
        for (let s = 0; s < 1 << M; s++) {
          if (s & (1 << i)) continue;
          const k = popcount(s);
          v += ((fact(k) * fact(M - k - 1)) / fact(M)) * ((f[s | (1 << i)] as number) - (f[s] as number));
        }
        return v;
      });
      const phi = first(extras, 'phi');
      const scale = Math.max(...exact.map(Math.abs));
      exact.forEach((v, i) => expect(Math.abs((phi[i] as number) - v), `phi[${i}] = ${phi[i]}, exact ${v}`).toBeLessThan(1e-4 * scale + 1e-6));
    } finally {
      model.dispose();
    }
    function popcount(v: number): number {
      let c = 0;
      for (let s = v; s; s &= s - 1) c++;
      return c;
    }
  });
});

describe('lime', () => {
  it('coalitions: row 0 keeps every feature, the rest are Bernoulli(1/2), seeded', () => {
    const c = limeCoalitions(20, 500, 3);
    expect(Array.from(c.z.subarray(0, 20))).toEqual(new Array(20).fill(1));
    const mean = c.z.subarray(20).reduce((a, b) => a + b, 0) / (499 * 20);
    expect(Math.abs(mean - 0.5)).toBeLessThan(0.03);
    expect(Array.from(limeCoalitions(20, 500, 3).z)).toEqual(Array.from(c.z));
  });

  it('recovers an additive model with a tiny ridge penalty; its R^2 is 1', async () => {
    for (const distance of ['features', 'pixels']) {
      const { values, extras } = await run(lime, additive, { ...grid, samples: 300, alpha: 1e-6, distance });
      const w = first(extras, 'weights');
      WEIGHTS.forEach((v, s) => expect(Math.abs((w[s] as number) - v), `${distance}: weight[${s}] = ${w[s]}`).toBeLessThan(1e-4));
      expect((extras['intercept'] as number[])[0]).toBeCloseTo(B, 4);
      expect((extras['r2'] as number[])[0]).toBeCloseTo(1, 8);
      for (let p = 0; p < H * W; p++) expect(values[p]).toBeCloseTo(w[CELL[p] as number] as number, 6);
    }
  });

  it('alpha = 1 (the default) shrinks the weights; a model with interactions has R^2 < 1', async () => {
    const shrunk = await run(lime, additive, { ...grid, samples: 300 });
    const w = first(shrunk.extras, 'weights');
    const norm = (v: number[]): number => Math.hypot(...v);
    expect(norm(w)).toBeLessThan(norm(WEIGHTS));
    expect(norm(w)).toBeGreaterThan(0.8 * norm(WEIGHTS));
    const inter = await run(lime, interacting, { ...grid, samples: 300, alpha: 1e-6 });
    const r2 = (inter.extras['r2'] as number[])[0] as number;
    expect(r2).toBeGreaterThan(0.5);
    expect(r2).toBeLessThan(0.999);
  });

  it('sample 0 is the unperturbed image; hidden cells show their own mean colour (segment-mean)', async () => {
    const seen: Float32Array[] = [];
    const recording: ScoresFunction = async (b) => {
      seen.push((await b.data()) as Float32Array);
      return additive(b);
    };
    const { extras } = await run(lime, recording, { features: 'grid', grid: 4, samples: 40 });
    const px = (await x.data()) as Float32Array;
    const first = (seen[0] as Float32Array).subarray(0, H * W);
    expect(Array.from(first)).toEqual(Array.from(px));
    expect((extras['score'] as number[])[0]).toBeCloseTo(B + WEIGHTS.reduce((a, b) => a + b, 0), 4);
    // Every perturbed image: each cell is either the original or its mean value.
    const means = new Float64Array(M);
    for (let p = 0; p < H * W; p++) means[CELL[p] as number] = (means[CELL[p] as number] as number) + (px[p] as number) / 16;
    let hidden = 0;
    const all = seen.flatMap((b) => Array.from({ length: b.length / (H * W) }, (_, i) => b.subarray(i * H * W, (i + 1) * H * W)));
    expect(all.length).toBe(40);
    for (const img of all) {
      for (let s = 0; s < M; s++) {
        const pixels = [...Array(H * W).keys()].filter((p) => CELL[p] === s);
        const original = pixels.every((p) => img[p] === px[p]);
        const filled = pixels.every((p) => Math.abs((img[p] as number) - (means[s] as number)) < 1e-6);
        expect(original || filled).toBe(true);
        if (!original) hidden++;
      }
    }
    expect(hidden).toBeGreaterThan(100);
  });
});

describe('features from the API, and errors', () => {
  it('a custom feature mask (ids need not be 0..M-1) is used and returned, compacted', async () => {
    // Quadrants with ids 3, 5, 7, 9.
    const mask = Array.from({ length: H }, (_, r) => Array.from({ length: W }, (_, c) => 3 + 2 * ((r < 6 ? 0 : 2) + (c < 6 ? 0 : 1))));
    const model = blackBox(additive, { inputShape: [H, W, 1] });
    const r = await explain(kernelShap, { model, input: x, target: 0, options: { features: mask, samples: 14, baseline: 'zeros' } });
    try {
      const fm = (r.extras['featureMask'] as tf.Tensor).arraySync() as number[][][];
      expect(fm[0]?.[0]?.[0]).toBe(0);
      expect(fm[0]?.[11]?.[11]).toBe(3);
      expect(r.extras['exact']).toEqual([true]);
      const phi = first(r.extras, 'phi');
      // Quadrant 0 (rows 0-5, cols 0-5) holds all of cell 0, half of cells 1 and 3, a quarter of cell 4.
      const q0 = (WEIGHTS[0] as number) + 0.5 * (WEIGHTS[1] as number) + 0.5 * (WEIGHTS[3] as number) + 0.25 * (WEIGHTS[4] as number);
      expect(phi[0]).toBeCloseTo(q0, 4);
      const v = (await r.values.data()) as Float32Array;
      expect(v[0]).toBeCloseTo(phi[0] as number, 6);
      expect(v[H * W - 1]).toBeCloseTo(phi[3] as number, 6);
    } finally {
      r.dispose();
    }
  });

  it('a feature mask of the wrong shape, or with negative ids, is a BAD_OPTION_VALUE and leaks nothing', async () => {
    const model = blackBox(additive, { inputShape: [H, W, 1] });
    for (const [what, features] of [
      ['wrong shape', Array.from({ length: 10 }, () => new Array(W).fill(0))],
      ['negative id', Array.from({ length: H }, () => new Array(W).fill(-1))],
      ['a tensor of the wrong shape', 'tensor'],
      ['a number', 3],
    ] as const) {
      const value = features === 'tensor' ? tf.zeros([2, 5]) : features;
      const error = await expectNoLeakedTensors(() => explain(lime, { model, input: x, target: 0, options: { features: value, samples: 10 } }), {
        what,
        allowThrow: true,
      });
      if (value instanceof tf.Tensor) value.dispose();
      expect(isCnnXaiError(error, 'BAD_OPTION_VALUE'), `${what}: ${String(error)}`).toBe(true);
    }
  });
});

import { createRandom, defineExplainer, opt, type Extra } from '@cnn-xai/core';
import {
  drawSeed,
  evaluateCoalitions,
  featureMap,
  featureMasks,
  featureOptions,
  fillValues,
  maskTensor,
  SURROGATE_BASELINES,
  type CoalitionSet,
} from './features.js';
import { constrainedShapleyFit } from './linalg.js';

/** Binomial coefficient C(n, k) as a double. */
export function binom(n: number, k: number): number {
  if (k < 0 || k > n) return 0;
  const kk = Math.min(k, n - k);
  let r = 1;
  for (let i = 1; i <= kk; i++) r = (r * (n - kk + i)) / i;
  return r > 2 ** 52 ? r : Math.round(r);
}

/** The Shapley kernel weight of one coalition of size k out of M: (M-1) / (C(M,k) k (M-k)). */
export function shapleyKernel(m: number, k: number): number {
  return (m - 1) / (binom(m, k) * k * (m - k));
}

/** KernelSHAP's coalitions of one image with their kernel weights (summing to 1). */
export interface ShapleyCoalitions extends CoalitionSet {
  weights: Float64Array;
  /** Every coalition (2^M - 2 of them) was enumerated: the fit gives the exact Shapley values. */
  exact: boolean;
}

/**
 * Coalitions for KernelSHAP as SHAP's KernelExplainer picks them (shap/_kernel.py): the Shapley
 * kernel's mass per coalition size k, `(M-1) / (k (M-k))`, with k and M-k counted together;
 * sizes whose coalitions (and complements) the budget covers are enumerated, smallest first,
 * each coalition weighted by the kernel; the rest of the budget is sampled: a size from the
 * remaining mass, a uniformly random coalition of that size, and its complement (paired,
 * antithetic sampling). A coalition drawn again adds to its weight instead of taking a new row.
 * The sampled rows share the mass that is left in proportion to how often they were drawn.
 *
 * `samples` is the budget of coalitions besides the empty and the full one, capped at 2^M - 2;
 * with `enumerate` false every size is sampled. Deterministic given `seed`.
 */
export function shapleyCoalitions(m: number, samples: number, seed: number, enumerate = true): ShapleyCoalitions {
  const rows: Uint8Array[] = [];
  const weights: number[] = [];
  if (m < 2) return { z: new Uint8Array(0), rows: 0, m, weights: new Float64Array(0), exact: true };
  const budget = Math.min(samples, 2 ** m - 2);
  const sizes = Math.ceil((m - 1) / 2);
  const paired = Math.floor((m - 1) / 2);
  const mass = Array.from({ length: sizes }, (_, i) => ((m - 1) / ((i + 1) * (m - i - 1))) * (i < paired ? 2 : 1));
  const totalMass = mass.reduce((a, b) => a + b, 0);
  for (let i = 0; i < sizes; i++) mass[i] = (mass[i] as number) / totalMass;

  let full = 0;
  let left = budget;
  if (enumerate) {
    const remaining = [...mass];
    for (let size = 1; size <= sizes; size++) {
      const isPaired = size <= paired;
      const count = binom(m, size) * (isPaired ? 2 : 1);
      if ((left * (remaining[size - 1] as number)) / count < 1 - 1e-8) break;
      full++;
      left -= count;
      const share = remaining[size - 1] as number;
      if (share < 1) for (let i = 0; i < sizes; i++) remaining[i] = (remaining[i] as number) / (1 - share);
      const wEach = (mass[size - 1] as number) / binom(m, size) / (isPaired ? 2 : 1);
      forEachCombination(m, size, (idx) => {
        const z = new Uint8Array(m);
        for (const j of idx) z[j] = 1;
        rows.push(z);
        weights.push(wEach);
        if (isPaired) {
          rows.push(z.map((v) => 1 - v));
          weights.push(wEach);
        }
      });
    }
  }
  const exact = full === sizes;
  if (!exact && left > 0) {
    const fixed = rows.length;
    const random = createRandom(seed);
    // A draw of a paired size gives two rows, so its mass is halved for drawing.
    const draw = mass.map((v, i) => (i < full ? 0 : i < paired ? v / 2 : v));
    const drawSum = draw.reduce((a, b) => a + b, 0);
    const cdf: number[] = [];
    let acc = 0;
    for (const v of draw) cdf.push((acc += v / drawSum));
    const seen = new Map<string, number>();
    const perm = Array.from({ length: m }, (_, j) => j);
    const maxDraws = 4 * left;
    for (let d = 0; d < maxDraws && left > 0; d++) {
      const u = random.next();
      let sizeIndex = cdf.findIndex((c) => u < c);
      if (sizeIndex < 0) sizeIndex = sizes - 1;
      const size = sizeIndex + 1;
      // A uniformly random subset of `size` features: a partial Fisher-Yates shuffle.
      for (let j = 0; j < size; j++) {
        const r = j + random.int(m - j);
        const t = perm[j] as number;
        perm[j] = perm[r] as number;
        perm[r] = t;
      }
      const z = new Uint8Array(m);
      for (let j = 0; j < size; j++) z[perm[j] as number] = 1;
      const key = z.join('');
      const at = seen.get(key);
      const withPair = size <= paired;
      if (at === undefined) {
        seen.set(key, rows.length);
        rows.push(z);
        weights.push(1);
        left--;
        if (withPair && left > 0) {
          rows.push(z.map((v) => 1 - v));
          weights.push(1);
          left--;
        }
      } else {
        weights[at] = (weights[at] as number) + 1;
        if (withPair && at + 1 < rows.length && rows[at + 1] !== undefined && isComplement(rows[at] as Uint8Array, rows[at + 1] as Uint8Array)) {
          weights[at + 1] = (weights[at + 1] as number) + 1;
        }
      }
    }
    // The sampled rows share the mass that enumeration left.
    const massLeft = mass.slice(full).reduce((a, b) => a + b, 0);
    let drawn = 0;
    for (let r = fixed; r < rows.length; r++) drawn += weights[r] as number;
    for (let r = fixed; r < rows.length; r++) weights[r] = ((weights[r] as number) * massLeft) / drawn;
  }
  const z = new Uint8Array(rows.length * m);
  rows.forEach((row, r) => z.set(row, r * m));
  return { z, rows: rows.length, m, weights: Float64Array.from(weights), exact };
}

function isComplement(a: Uint8Array, b: Uint8Array): boolean {
  for (let j = 0; j < a.length; j++) if ((a[j] as number) + (b[j] as number) !== 1) return false;
  return true;
}

/** Calls `fn` with every k-subset of 0..n-1 in lexicographic order (the array is reused). */
function forEachCombination(n: number, k: number, fn: (idx: readonly number[]) => void): void {
  const idx = Array.from({ length: k }, (_, i) => i);
  for (;;) {
    fn(idx);
    let i = k - 1;
    while (i >= 0 && (idx[i] as number) === n - k + i) i--;
    if (i < 0) return;
    idx[i] = (idx[i] as number) + 1;
    for (let j = i + 1; j < k; j++) idx[j] = (idx[j - 1] as number) + 1;
  }
}

/**
 * KernelSHAP (Lundberg and Lee, NeurIPS 2017) over interpretable image features: Shapley values
 * of the target score, where a hidden feature shows the baseline. A weighted linear fit with the
 * Shapley kernel, under the efficiency constraint `sum(phi) = f(x) - f(baseline)` (eliminating
 * the last feature, as SHAP does); with few features every coalition is enumerated and the
 * values are exact.
 */
export const kernelShap = defineExplainer({
  id: 'kernel-shap',
  name: 'KernelSHAP',
  family: 'surrogate',
  kind: 'perturbation',
  description:
    'Shapley values of superpixels (or grid cells): a Shapley-kernel weighted linear fit over coalitions, whose values add up to the score minus the baseline\'s score.',
  paper: {
    title: 'A Unified Approach to Interpreting Model Predictions',
    authors: 'Lundberg, Lee',
    year: 2017,
    url: 'https://arxiv.org/abs/1705.07874',
  },
  requires: { gradients: false },
  options: {
    samples: opt.integer({
      default: 2048,
      min: 1,
      max: 1_000_000,
      description:
        "Coalitions evaluated per image besides the empty and the full one (SHAP's nsamples, whose auto is 2M + 2048); at most 2^M - 2 are used.",
    }),
    ...featureOptions,
    baseline: opt.choiceOrValue({
      choices: SURROGATE_BASELINES,
      default: 'zeros',
      description:
        "What hidden features show (Captum's baselines): zeros, segment-mean (each superpixel's mean colour), blur, uniform, mean (the image's mean colour), a number or an array/tensor.",
    }),
    enumerate: opt.boolean({
      default: true,
      description:
        'Enumerate whole coalition sizes, smallest first, while the budget covers them (SHAP); with 2^M - 2 <= samples every coalition is used and the values are exact. false: sample every size.',
    }),
    batchSize: opt.integer({ default: 64, min: 1, max: 4096, description: 'Perturbed images per model call.' }),
    seed: opt.integer({ default: undefined as unknown as number, min: 0, description: "Seed of the sampled coalitions (default: the call's seed)." }),
  },
  async explain(x, ctx, o) {
    const [n, h, w] = x.shape;
    const pixels = (await x.data()) as Float32Array;
    const f = await featureMasks(x, pixels, o);
    const seed = drawSeed(ctx);
    const fill = fillValues(x, pixels, f, o.baseline, seed);
    try {
      const coalitions = f.counts.map((m) => shapleyCoalitions(m, o.samples, seed, o.enumerate));
      // Rows 0 and 1 of every image: the full coalition f(x) and the empty one f(baseline).
      const sets: CoalitionSet[] = coalitions.map((c) => {
        const z = new Uint8Array((c.rows + 2) * c.m);
        z.fill(1, 0, c.m);
        z.set(c.z, 2 * c.m);
        return { z, rows: c.rows + 2, m: c.m };
      });
      const ev = await evaluateCoalitions(ctx, x, fill, f, sets, o.batchSize);
      const phi: number[][] = [];
      const baseValue: number[] = [];
      const score: number[] = [];
      for (let i = 0; i < n; i++) {
        const c = coalitions[i] as ShapleyCoalitions;
        const y = ev.scores[i] as Float64Array;
        const fx = y[0] as number;
        const f0 = y[1] as number;
        const values = constrainedShapleyFit(c.z, c.rows, c.m, y.subarray(2), c.weights, f0, fx - f0);
        phi.push(Array.from(values));
        baseValue.push(f0);
        score.push(fx);
      }
      const values = featureMap(f, phi, h, w);
      return {
        values,
        signed: true,
        extras: {
          baseValue,
          score,
          phi: phi as unknown as Extra,
          exact: coalitions.map((c) => c.exact) as unknown as Extra,
          coalitions: coalitions.map((c) => c.rows),
          featureCounts: [...f.counts],
          featureMask: maskTensor(f, h, w),
        },
      };
    } finally {
      fill.dispose();
    }
  },
});

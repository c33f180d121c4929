/**
 * Parity with Zennit 0.5.1 and Captum 0.8.0 LRP on the reference weights
 * (fixtures/reference/fashion-cnn-torch): Zennit's EpsilonPlus, EpsilonGammaBox(low=0, high=1) and
 * EpsilonAlpha2Beta1 composites from a one-hot start, and Captum's LRP (epsilon 1e-9 everywhere,
 * the target logit as start). All 32 images on wasm, a few on cpu (slower there).
 */
import * as tf from '@tensorflow/tfjs-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { explain, ModelTap, selectBackend } from '@cnn-xai/core';
import { loadModel } from '@cnn-xai/core/node';
import { fixtures, mean, perImagePearson, readReference } from '@cnn-xai/fixtures';
import { lrp } from './index.js';

const images = readReference('images');
const targets = Array.from(readReference('targets').data);
const N = images.shape[0] as number;
const PER = 28 * 28;

async function parity(tap: ModelTap, options: Record<string, unknown>, ref: string, subset: number[]) {
  const x = tf.tensor4d(images.data, images.shape as [number, number, number, number]);
  const sub = tf.gather(x, subset);
  const res = await explain(lrp, { model: tap, input: sub, target: subset.map((i) => targets[i] as number), options });
  const ours = await res.values.data();
  const extras = res.extras;
  res.dispose();
  tf.dispose([x, sub]);
  const refMap = readReference(`maps/${ref}`);
  const refSub = new Float32Array(subset.length * PER);
  subset.forEach((img, k) => refSub.set(refMap.data.subarray(img * PER, (img + 1) * PER), k * PER));
  const r = perImagePearson(ours, refSub, PER, subset.map((_, k) => k));
  let scale = 0;
  let diff = 0;
  for (let i = 0; i < ours.length; i++) {
    scale = Math.max(scale, Math.abs(refSub[i] as number));
    diff = Math.max(diff, Math.abs((ours[i] as number) - (refSub[i] as number)));
  }
  return { meanR: mean(r), minR: Math.min(...r), relDiff: diff / scale, extras };
}

const CASES = [
  { composite: 'epsilon-plus', ref: 'zennit_epsilon_plus', options: { composite: 'epsilon-plus', start: 'one-hot' } },
  { composite: 'epsilon-gamma-box', ref: 'zennit_epsilon_gamma_box', options: { composite: 'epsilon-gamma-box', low: 0, high: 1, start: 'one-hot' } },
  { composite: 'epsilon-alpha2-beta1', ref: 'zennit_epsilon_alpha2_beta1', options: { composite: 'epsilon-alpha2-beta1', start: 'one-hot' } },
  { composite: 'epsilon', ref: 'captum_lrp', options: { composite: 'epsilon', epsilon: 1e-9, start: 'logit' } },
] as const;

const all = [...Array(N).keys()];

for (const backend of ['wasm', 'cpu'] as const) {
  const subset = backend === 'wasm' ? all : [0, 1, 2];
  describe(`LRP parity on the ${backend} backend (${subset.length} images)`, () => {
    let tap: ModelTap;
    beforeAll(async () => {
      await selectBackend(backend);
      tap = ModelTap.from(await loadModel(`${fixtures.reference}/model`));
    });
    afterAll(() => tap.dispose());

    for (const c of CASES) {
      it(`${c.composite} reproduces ${c.ref}`, async () => {
        const t0 = performance.now();
        const { meanR, minR, relDiff } = await parity(tap, c.options, c.ref, subset);
        console.info(`[lrp parity ${backend}] ${c.composite} vs ${c.ref}: mean r ${meanR.toFixed(6)}, min r ${minR.toFixed(6)}, max |diff| / max |ref| ${relDiff.toExponential(2)} (${(performance.now() - t0).toFixed(0)} ms)`);
        expect(meanR).toBeGreaterThanOrEqual(0.99);
        expect(minR).toBeGreaterThanOrEqual(0.98);
        // The scale too (start relevance and stabilizers as the libraries have them): on cpu about
        // 1e-6 of the map's largest value, on wasm (other float summation orders) about 5e-3.
        expect(relDiff).toBeLessThan(backend === 'cpu' ? 1e-4 : 2e-2);
      });
    }
  });
}

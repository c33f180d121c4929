/**
 * Parity with Captum 0.8.0 on the reference weights (fixtures/reference/fashion-cnn-torch) for the
 * ReLU backward rules and SmoothGrad. GuidedBackprop and Deconvolution are deterministic: all 32
 * images on wasm, the first 8 on the (slow) cpu backend, as stated in the test names. SmoothGrad
 * draws its noise from another random stream than PyTorch's, so it is compared statistically, on
 * wasm only: the mean per-image Pearson correlation with Captum's map (two seeds of Captum itself
 * agree to about 0.97; two seeds of ours too), and it must agree with Captum's SmoothGrad far
 * better than the plain gradient does (Captum's Saliency vs its SmoothGrad: 0.69).
 */
import * as tf from '@tensorflow/tfjs-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRegistry, explain, ModelTap, selectBackend, type AnyExplainer } from '@cnn-xai/core';
import { loadModel } from '@cnn-xai/core/node';
import { fixtures, mean, perImagePearson, readReference } from '@cnn-xai/fixtures';
import { deconvnet, guidedBackprop, register, smoothgrad } from './index.js';

const images = readReference('images');
const targets = Array.from(readReference('targets').data);
const N = images.shape[0] as number;
const PER = 28 * 28;
const registry = register(createRegistry());

function referenceMaps(ref: string, subset: number[]): Float32Array {
  const refMap = readReference(`maps/${ref}`);
  const out = new Float32Array(subset.length * PER);
  subset.forEach((img, k) => out.set(refMap.data.subarray(img * PER, (img + 1) * PER), k * PER));
  return out;
}

async function parity(tap: ModelTap, ex: AnyExplainer, options: Record<string, unknown>, ref: string, subset: number[]) {
  const x = tf.tensor4d(images.data, images.shape as [number, number, number, number]);
  const sub = tf.gather(x, subset);
  const res = await explain(ex, { model: tap, input: sub, target: subset.map((i) => targets[i] as number), options, registry });
  const ours = await res.values.data();
  res.dispose();
  tf.dispose([x, sub]);
  const r = perImagePearson(ours, referenceMaps(ref, subset), PER, subset.map((_, k) => k));
  return { r, meanR: mean(r), minR: Math.min(...r) };
}

const all = [...Array(N).keys()];
const cpuSubset = all.slice(0, 8);
const fmt = (v: number): string => v.toFixed(4);

for (const backend of ['wasm', 'cpu'] as const) {
  describe(`parity with Captum (ReLU rules, SmoothGrad) on the ${backend} backend`, () => {
    let tap: ModelTap;
    beforeAll(async () => {
      await selectBackend(backend);
      tap = ModelTap.from(await loadModel(`${fixtures.reference}/model`));
    });
    afterAll(() => tap.dispose());

    const subset = backend === 'cpu' ? cpuSubset : all;
    for (const [ex, ref, cls] of [
      [guidedBackprop, 'captum_guided_backprop', 'GuidedBackprop'],
      [deconvnet, 'captum_deconvolution', 'Deconvolution'],
    ] as const) {
      it(`${ex.id} reproduces Captum ${cls} on ${subset.length} images`, async () => {
        const { meanR, minR } = await parity(tap, ex, {}, ref, subset);
        console.info(`[parity ${backend}] ${ex.id} vs ${ref}: mean r ${fmt(meanR)}, min r ${fmt(minR)} (${subset.length} images)`);
        expect(meanR).toBeGreaterThanOrEqual(0.99);
        expect(minR).toBeGreaterThan(0.95);
      });
    }

    if (backend === 'wasm') {
      it('smoothgrad (50 samples, noise 0.15) agrees statistically with Captum NoiseTunnel(Saliency) on 32 images', async () => {
        const options = { samples: 50, noise: 0.15, batchSize: 200 };
        const { r, meanR, minR } = await parity(tap, smoothgrad, options, 'captum_smoothgrad', all);
        // The plain gradient is the floor: Captum's own Saliency vs its SmoothGrad.
        const floor = mean(perImagePearson(referenceMaps('captum_saliency', all), referenceMaps('captum_smoothgrad', all), PER, all));
        console.info(
          `[parity wasm] smoothgrad vs captum_smoothgrad: mean r ${fmt(meanR)}, min r ${fmt(minR)}; Captum saliency vs Captum smoothgrad: ${fmt(floor)}`,
        );
        expect(r).toHaveLength(N);
        expect(meanR).toBeGreaterThanOrEqual(0.9);
        expect(meanR).toBeGreaterThan(floor + 0.1);
      });
    }
  });
}

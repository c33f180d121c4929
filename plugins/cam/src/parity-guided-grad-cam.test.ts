/**
 * Parity of guided-grad-cam with Captum 0.8.0 GuidedGradCam on the reference weights
 * (fixtures/reference/fashion-cnn-torch, layer relu5 = our conv5): Captum multiplies
 * GuidedBackprop by LayerGradCam with relu_attributions=True upsampled with NEAREST, so ours runs
 * with `upsample: 'nearest'`. Mean per-image Pearson correlation over all 32 images on wasm and
 * the first 8 on the (slower) cpu backend, plus the largest error relative to the largest
 * reference value (the same scale, not only the same pattern). The default bilinear upsampling
 * is compared too (not Captum's choice, so only a looser bound).
 */
import * as tf from '@tensorflow/tfjs-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRegistry, explain, ModelTap, selectBackend } from '@cnn-xai/core';
import { loadModel } from '@cnn-xai/core/node';
import { fixtures, mean, perImagePearson, readReference } from '@cnn-xai/fixtures';
import { register as registerGradient } from '@cnn-xai/plugin-gradient';
import { guidedGradCam, register } from './index.js';

const images = readReference('images');
const targets = Array.from(readReference('targets').data);
const reference = readReference('maps/captum_guided_gradcam');
const N = images.shape[0] as number;
const PER = 28 * 28;
const all = [...Array(N).keys()];
const registry = registerGradient(register(createRegistry()));

function relativeMaxError(ours: ArrayLike<number>, ref: ArrayLike<number>, count: number): number {
  let err = 0;
  let big = 0;
  for (let i = 0; i < count; i++) {
    err = Math.max(err, Math.abs((ours[i] as number) - (ref[i] as number)));
    big = Math.max(big, Math.abs(ref[i] as number));
  }
  return err / big;
}

for (const backend of ['wasm', 'cpu'] as const) {
  describe(`guided-grad-cam parity with Captum GuidedGradCam on the ${backend} backend`, () => {
    let tap: ModelTap;
    beforeAll(async () => {
      await selectBackend(backend);
      tap = ModelTap.from(await loadModel(`${fixtures.reference}/model`));
    });
    afterAll(() => tap.dispose());

    const n = backend === 'cpu' ? 8 : N;
    const subset = all.slice(0, n);
    for (const upsample of ['nearest', 'bilinear'] as const) {
      it(`upsample ${upsample} on conv5 vs captum_guided_gradcam (${n} images)`, async () => {
        const x = tf.tensor4d(images.data.subarray(0, n * PER), [n, 28, 28, 1]);
        const started = performance.now();
        const res = await explain(guidedGradCam, { model: tap, input: x, target: targets.slice(0, n), options: { layer: 'conv5', upsample }, registry });
        const seconds = (performance.now() - started) / 1000;
        x.dispose();
        expect(res.values.shape).toEqual([n, 28, 28, 1]);
        const ours = await res.values.data();
        res.dispose();
        const r = perImagePearson(ours, reference.data, PER, subset);
        const meanR = mean(r);
        const minR = Math.min(...r);
        const rel = relativeMaxError(ours, reference.data, n * PER);
        console.info(
          `[parity ${backend}] guided-grad-cam (${upsample}) vs captum_guided_gradcam: mean r ${meanR.toFixed(7)} (1 - r = ${(1 - meanR).toExponential(1)}), min r ${minR.toFixed(7)}, max |error| / max |ref| ${rel.toExponential(2)}, ${n} images, ${seconds.toFixed(2)} s`,
        );
        if (upsample === 'nearest') {
          // Captum's own choice: the same map up to float error (measured: 1 - r below 1e-6).
          expect(meanR).toBeGreaterThanOrEqual(0.999);
          expect(minR).toBeGreaterThanOrEqual(0.99);
          expect(rel).toBeLessThan(1e-2);
        } else {
          // Bilinear spreads each 4x4 cell's weight into its neighbours (measured: mean r about 0.97).
          expect(meanR).toBeGreaterThanOrEqual(0.9);
        }
      });
    }
  });
}

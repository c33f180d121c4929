/**
 * Parity of the CAM family with pytorch-grad-cam 1.5.5 on the reference weights (conv5): our
 * raw maps (relu: false) against `gradcam_<method>_raw_7x7` at the layer's resolution and
 * `gradcam_<method>_raw` at 28x28 (bilinear, half-pixel centres), as mean per-image Pearson
 * correlations. All 32 images on wasm; on cpu all 32 for the cheap methods, the first 2 for
 * Score-CAM (128 channels: 128 passes of the whole model per image, about 12 s per image on
 * cpu) and the first 4 for Ablation-CAM (128 passes of the GAP + dense head per image).
 * CAM has no map of its own in the reference: with this GAP + dense head it is Grad-CAM
 * times Z = 49, so it is compared with `gradcam_gradcam_raw*`, scale included.
 */
import * as tf from '@tensorflow/tfjs-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRegistry, explain, ModelTap, selectBackend, type AnyExplainer } from '@cnn-xai/core';
import { loadModel } from '@cnn-xai/core/node';
import { fixtures, mean, perImagePearson, readReference } from '@cnn-xai/fixtures';
import { ablationCam, cam, eigenCam, gradCamPlusPlus, hiResCam, layerCam, scoreCam, xGradCam } from './index.js';

const images = readReference('images');
const targets = Array.from(readReference('targets').data);
const N = images.shape[0] as number;
const all = [...Array(N).keys()];
const registry = createRegistry().register(cam, gradCamPlusPlus, xGradCam, hiResCam, layerCam, scoreCam, ablationCam, eigenCam);

interface Case {
  explainer: AnyExplainer;
  /** Reference map name: maps/gradcam_<ref>_raw[_7x7]. */
  ref: string;
  /** Our map = scale * reference (CAM = 49 * Grad-CAM). */
  scale?: number;
  /** Images on the cpu backend (default all). */
  cpuImages?: number;
  options?: Record<string, unknown>;
}

const cases: Case[] = [
  { explainer: cam, ref: 'gradcam', scale: 49 },
  { explainer: gradCamPlusPlus, ref: 'gradcam_plusplus' },
  { explainer: xGradCam, ref: 'xgradcam' },
  { explainer: hiResCam, ref: 'hirescam' },
  { explainer: layerCam, ref: 'layercam' },
  { explainer: eigenCam, ref: 'eigencam' },
  { explainer: scoreCam, ref: 'scorecam', cpuImages: 2, options: { batchSize: 128 } },
  { explainer: ablationCam, ref: 'ablationcam', cpuImages: 4, options: { batchSize: 128 } },
];

/** Largest |ours/scale - ref| over the compared images, relative to the largest |ref|. */
function relativeMaxError(ours: ArrayLike<number>, ref: ArrayLike<number>, count: number, scale: number): number {
  let err = 0;
  let big = 0;
  for (let i = 0; i < count; i++) {
    err = Math.max(err, Math.abs((ours[i] as number) / scale - (ref[i] as number)));
    big = Math.max(big, Math.abs(ref[i] as number));
  }
  return err / big;
}

for (const backend of ['wasm', 'cpu'] as const) {
  describe(`CAM family parity with pytorch-grad-cam on the ${backend} backend`, () => {
    let tap: ModelTap;
    beforeAll(async () => {
      await selectBackend(backend);
      tap = ModelTap.from(await loadModel(`${fixtures.reference}/model`));
    });
    afterAll(() => tap.dispose());

    for (const c of cases) {
      const n = backend === 'cpu' ? (c.cpuImages ?? N) : N;
      it(`${c.explainer.id} on conv5 matches gradcam_${c.ref}_raw at 7x7 and 28x28 (${n} images)`, async () => {
        const x = tf.tensor4d(images.data.subarray(0, n * 28 * 28), [n, 28, 28, 1]);
        const started = performance.now();
        const res = await explain(c.explainer, {
          model: tap,
          input: x,
          target: targets.slice(0, n),
          options: { layer: 'conv5', relu: false, ...c.options },
          registry,
        });
        const seconds = (performance.now() - started) / 1000;
        x.dispose();
        expect(res.values.shape).toEqual([n, 28, 28]);
        expect(res.layer).toBe('conv5');
        expect(res.signed).toBe(true);
        const layerMap = res.extras['layerMap'] as tf.Tensor;
        expect(layerMap.shape).toEqual([n, 7, 7]);
        const ours = await res.values.data();
        const ours7 = await layerMap.data();
        res.dispose();
        const ref = readReference(`maps/gradcam_${c.ref}_raw`);
        const ref7 = readReference(`maps/gradcam_${c.ref}_raw_7x7`);
        const subset = all.slice(0, n);
        const r = mean(perImagePearson(ours, ref.data, 28 * 28, subset));
        const r7 = mean(perImagePearson(ours7, ref7.data, 49, subset));
        const rel = relativeMaxError(ours7, ref7.data, n * 49, c.scale ?? 1);
        console.info(
          `[parity ${backend}] ${c.explainer.id}: mean Pearson 7x7 ${r7.toFixed(7)} (1 - r = ${(1 - r7).toExponential(1)}), 28x28 ${r.toFixed(7)} (1 - r = ${(1 - r).toExponential(1)}), max |error| / max |ref| at 7x7 ${rel.toExponential(2)}, ${n} images, ${seconds.toFixed(2)} s`,
        );
        expect(r7).toBeGreaterThanOrEqual(0.99);
        expect(r).toBeGreaterThanOrEqual(0.99);
        // The same scale too, not only the same pattern.
        expect(rel).toBeLessThan(1e-2);
      });
    }
  });
}

/**
 * Parity of Grad-CAM with Captum's LayerGradCam (conv5, bilinear upsampling with half-pixel
 * centres) on the reference weights, raw and rectified, at the input and at the layer's 7x7
 * resolution, on the cpu and wasm backends, over all 32 reference images.
 */
import * as tf from '@tensorflow/tfjs-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRegistry, explain, ModelTap, selectBackend } from '@cnn-xai/core';
import { loadModel } from '@cnn-xai/core/node';
import { fixtures, mean, perImagePearson, readReference } from '@cnn-xai/fixtures';
import { gradCam } from './index.js';

const images = readReference('images');
const targets = Array.from(readReference('targets').data);
const N = images.shape[0] as number;
const all = [...Array(N).keys()];
const registry = createRegistry().register(gradCam);

for (const backend of ['wasm', 'cpu'] as const) {
  describe(`Grad-CAM parity with Captum on the ${backend} backend`, () => {
    let tap: ModelTap;
    beforeAll(async () => {
      await selectBackend(backend);
      tap = ModelTap.from(await loadModel(`${fixtures.reference}/model`));
    });
    afterAll(() => tap.dispose());

    for (const relu of [false, true]) {
      it(`grad-cam on conv5 (relu ${relu}) matches LayerGradCam at 28x28 and 7x7`, async () => {
        const x = tf.tensor4d(images.data, images.shape as [number, number, number, number]);
        const res = await explain(gradCam, { model: tap, input: x, target: targets, options: { layer: 'conv5', relu }, registry });
        x.dispose();
        expect(res.values.shape).toEqual([N, 28, 28]);
        expect(res.layer).toBe('conv5');
        const layerMap = res.extras['layerMap'] as tf.Tensor;
        expect(layerMap.shape).toEqual([N, 7, 7]);
        const ours = await res.values.data();
        const ours7 = await layerMap.data();
        res.dispose();
        const suffix = relu ? '_relu' : '';
        const ref = readReference(`maps/captum_layer_gradcam${suffix}`);
        const ref7 = readReference(`maps/captum_layer_gradcam${suffix}_7x7`);
        const r = perImagePearson(ours, ref.data, 28 * 28, all);
        const r7 = perImagePearson(ours7, ref7.data, 49, all);
        expect(mean(r)).toBeGreaterThanOrEqual(0.99);
        expect(mean(r7)).toBeGreaterThanOrEqual(0.99);
        // Same scale too, not only the same shape: the maps agree to float tolerance.
        let maxAbs = 0;
        for (let i = 0; i < ours7.length; i++) maxAbs = Math.max(maxAbs, Math.abs((ours7[i] as number) - (ref7.data[i] as number)));
        expect(maxAbs).toBeLessThan(1e-3);
      });
    }
  });
}

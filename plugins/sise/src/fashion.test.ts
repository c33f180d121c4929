/**
 * SISE and Ada-SISE on the Fashion-MNIST CNN (blocks conv2, conv4, conv5: 32 + 64 + 128 feature
 * maps): Ada-SISE's adaptive threshold keeps a subset of SISE's masks, so it needs fewer
 * forward passes; how similar the two maps are is reported (Pearson per image).
 */
import * as tf from '@tensorflow/tfjs-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { explain, ModelTap, selectBackend } from '@cnn-xai/core';
import { loadModel } from '@cnn-xai/core/node';
import { fixtures, mean, perImagePearson, readReference } from '@cnn-xai/fixtures';
import { adaSise, sise } from './index.js';

const N = 4;

describe('SISE vs Ada-SISE on fashion-cnn (wasm)', () => {
  let tap: ModelTap;
  let x: tf.Tensor4D;
  beforeAll(async () => {
    await selectBackend('wasm');
    tap = ModelTap.from(await loadModel(fixtures.fashionCnn));
    const images = readReference('images');
    x = tf.tensor4d(images.data.slice(0, N * 784), [N, 28, 28, 1]);
  });
  afterAll(() => {
    x.dispose();
    tap.dispose();
  });

  it('Ada-SISE uses fewer forward passes than SISE; the maps are reported with their correlation', async () => {
    const runs = [];
    // Ada-SISE first: it bears the first call's warm-up, so the time comparison is conservative.
    for (const ex of [adaSise, sise]) {
      const t0 = performance.now();
      const r = await explain(ex, { model: tap, input: x });
      const ms = (performance.now() - t0) / N;
      runs.push({ id: ex.id, ms, passes: r.extras['forwardPasses'] as number[], masks: r.extras['masks'], values: (await r.values.data()) as Float32Array, layer: r.layer });
      r.dispose();
    }
    const [a, s] = runs as [(typeof runs)[0], (typeof runs)[0]];
    expect(s.layer).toEqual(['conv2', 'conv4', 'conv5']);
    a.passes.forEach((p, i) => expect(p).toBeLessThan(s.passes[i] as number));
    const r = perImagePearson(s.values, a.values, 784, [...Array(N).keys()]);
    console.log(
      `fashion-cnn, ${N} images: SISE ${mean(s.passes).toFixed(1)} forward passes/image, ${s.ms.toFixed(0)} ms/image; ` +
        `Ada-SISE ${mean(a.passes).toFixed(1)} passes/image, ${a.ms.toFixed(0)} ms/image; ` +
        `Pearson(SISE, Ada-SISE) per image ${r.map((v) => v.toFixed(3)).join(', ')} (mean ${mean(r).toFixed(3)}); ` +
        `masks SISE ${JSON.stringify(s.masks)}, Ada-SISE ${JSON.stringify(a.masks)}`,
    );
    // Measured: mean 0.59 over 16 images, 0.61 over all 32 (hard Otsu fusion amplifies small
    // differences between the block maps; the block maps themselves correlate 0.64-0.76).
    expect(mean(r)).toBeGreaterThan(0.3);
  });
});

/**
 * Parity with Captum 0.8.0 Occlusion on the reference weights (fixtures/reference/fashion-cnn-torch,
 * `captum_occlusion`: window [1, 4, 4], stride [1, 2, 2], zero baseline, logits of the predicted
 * class) on all 32 images on wasm (the cpu backend: parity-cpu.test.ts). RISE has no deterministic
 * reference; its map is checked to correlate positively with Captum's occlusion map.
 */
import * as tf from '@tensorflow/tfjs-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { blackBox, explain, ModelTap, selectBackend } from '@cnn-xai/core';
import { loadModel } from '@cnn-xai/core/node';
import { fixtures, mean, perImagePearson, readReference } from '@cnn-xai/fixtures';
import { occlusion, rise } from './index.js';

const images = readReference('images');
const targets = Array.from(readReference('targets').data);
const reference = readReference('maps/captum_occlusion');
const N = images.shape[0] as number;
const PER = 28 * 28;

function referenceOf(subset: readonly number[]): Float32Array {
  const out = new Float32Array(subset.length * PER);
  subset.forEach((img, k) => out.set(reference.data.subarray(img * PER, (img + 1) * PER), k * PER));
  return out;
}

async function mapsOf(model: ModelTap | ReturnType<typeof blackBox>, ex: typeof occlusion | typeof rise, options: Record<string, unknown>, subset: number[]) {
  const x = tf.tidy(() => tf.gather(tf.tensor4d(images.data, images.shape as [number, number, number, number]), subset));
  const res = await explain(ex, { model, input: x, target: subset.map((i) => targets[i] as number), options });
  const values = Float32Array.from(await res.values.data());
  res.dispose();
  x.dispose();
  return values;
}

const all = [...Array(N).keys()];

describe('occlusion parity with Captum on the wasm backend', () => {
  let tap: ModelTap;
  let ours: Float32Array;
  beforeAll(async () => {
    await selectBackend('wasm');
    tap = ModelTap.from(await loadModel(`${fixtures.reference}/model`));
  });
  afterAll(() => tap.dispose());

  it(`window 4, stride 2, zero baseline reproduces Captum Occlusion on all ${N} images`, async () => {
    ours = await mapsOf(tap, occlusion, { window: 4, stride: 2, baseline: 'zeros', batchSize: 128 }, all);
    const r = perImagePearson(ours, referenceOf(all), PER, all);
    console.info(`[occlusion parity wasm] ${N} images: mean r = ${mean(r).toFixed(6)}, min r = ${Math.min(...r).toFixed(6)}`);
    expect(mean(r)).toBeGreaterThanOrEqual(0.99);
    expect(Math.min(...r)).toBeGreaterThan(0.98);
  });

  it('the same maps through a black box (a plain function of the batch, chunks of 50)', async () => {
    const box = blackBox((b) => tap.predict(b), { inputShape: [28, 28, 1], numClasses: 10, batchSize: 50 });
    const subset = [3, 25];
    const viaBox = await mapsOf(box, occlusion, {}, subset); // the defaults: window 4, stride 2 on 28 x 28
    let worst = 0;
    subset.forEach((img, k) => {
      for (let j = 0; j < PER; j++) worst = Math.max(worst, Math.abs((viaBox[k * PER + j] as number) - (ours[img * PER + j] as number)));
    });
    expect(worst).toBeLessThan(1e-4);
  });

  it('RISE (500 masks, logit scores) correlates positively with the occlusion map', async () => {
    // Both then average logits of perturbed images; with softmax scores (the default) saturated
    // probabilities make RISE agree less with a logit-based occlusion map (r about 0.4 on average).
    const subset = [0, 1, 2, 3];
    const sal = await mapsOf(tap, rise, { samples: 500, scores: 'logit', batchSize: 100, seed: 0 }, subset);
    const r = perImagePearson(sal, referenceOf(subset), PER, subset.map((_, k) => k));
    console.info(`[rise vs captum occlusion] r per image: ${r.map((v) => v.toFixed(3)).join(', ')}`);
    expect(Math.min(...r)).toBeGreaterThan(0);
    expect(mean(r)).toBeGreaterThan(0.3);
  });
});

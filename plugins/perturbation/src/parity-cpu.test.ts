/**
 * Occlusion parity with Captum on the cpu backend. Its convolutions are plain JavaScript (about
 * 50 ms per forward pass of the reference network), so one image (169 window positions) is
 * checked here; all 32 are checked on wasm in parity.test.ts.
 */
import * as tf from '@tensorflow/tfjs-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { explain, ModelTap, selectBackend } from '@cnn-xai/core';
import { loadModel } from '@cnn-xai/core/node';
import { fixtures, pearson, readReference } from '@cnn-xai/fixtures';
import { occlusion } from './index.js';

describe('occlusion parity with Captum on the cpu backend', () => {
  let tap: ModelTap;
  beforeAll(async () => {
    await selectBackend('cpu');
    tap = ModelTap.from(await loadModel(`${fixtures.reference}/model`));
  });
  afterAll(() => tap.dispose());

  it('window 4, stride 2, zero baseline reproduces Captum Occlusion on image 7', async () => {
    const img = 7;
    const images = readReference('images');
    const target = readReference('targets').data[img] as number;
    const x = tf.tensor4d(images.data.subarray(img * 784, (img + 1) * 784), [1, 28, 28, 1]);
    const res = await explain(occlusion, { model: tap, input: x, target, options: { window: 4, stride: 2, batchSize: 169 } });
    const ours = await res.values.data();
    res.dispose();
    x.dispose();
    const ref = readReference('maps/captum_occlusion').data.subarray(img * 784, (img + 1) * 784);
    const r = pearson(ours, ref);
    let worst = 0;
    ref.forEach((v, j) => (worst = Math.max(worst, Math.abs(v - (ours[j] as number)))));
    console.info(`[occlusion parity cpu] image ${img}: r = ${r.toFixed(6)}, max |diff| = ${worst.toExponential(2)}`);
    expect(r).toBeGreaterThanOrEqual(0.99);
  });
});

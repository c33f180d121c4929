import * as tf from '@tensorflow/tfjs-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRegistry, explain, isCnnXaiError, selectBackend, type Registry } from '@cnn-xai/core';
import { guidedBackprop, register as registerGradient } from '@cnn-xai/plugin-gradient';
import { expectClose, expectNoLeakedTensors, inputFor, tinyResnet, tinyVgg } from '@cnn-xai/testing';
import type { LayersModel } from '@tensorflow/tfjs-layers';
import { gradCam, guidedGradCam, register } from './index.js';

const both = (): Registry => registerGradient(register(createRegistry()));

describe('guided-grad-cam', () => {
  let model: LayersModel;
  let x: tf.Tensor4D;
  const targets = [3, 1];
  const registry = both();
  beforeAll(async () => {
    await selectBackend('wasm');
    model = tinyVgg({ inputShape: [16, 16, 2] });
    x = inputFor(model, 2, 13);
  });
  afterAll(() => {
    x.dispose();
    model.dispose();
  });

  it('is guided backprop [N,H,W,C] times the rectified Grad-CAM map upsampled (bilinear, or nearest: 2x2 blocks) and broadcast over channels', async () => {
    const gb = await explain(guidedBackprop, { model, input: x, target: targets, registry });
    const gc = await explain(gradCam, { model, input: x, target: targets, registry });
    expect(gb.values.shape).toEqual([2, 16, 16, 2]);
    const gbv = (await gb.values.array()) as number[][][][];
    const cam8 = (await (gc.extras['layerMap'] as tf.Tensor).array()) as number[][][];
    const cam16 = (await gc.values.array()) as number[][][];
    expect(Math.max(...cam8.flat(2))).toBeGreaterThan(0);
    expect(Math.min(...cam8.flat(2))).toBe(0);
    for (const upsample of ['bilinear', 'nearest'] as const) {
      const r = await explain(guidedGradCam, { model, input: x, target: targets, options: { upsample }, registry });
      expect(r.values.shape).toEqual([2, 16, 16, 2]);
      expect(r.signed).toBe(true);
      expect(r.layer).toBe('conv3');
      expect(r.target).toEqual(targets);
      expectClose(r.extras['layerMap'] as tf.Tensor, cam8, { rtol: 1e-6, what: 'layerMap' });
      const expected: number[] = [];
      for (let n = 0; n < 2; n++) {
        for (let i = 0; i < 16; i++) {
          for (let j = 0; j < 16; j++) {
            // conv3 is 8x8: nearest takes source floor(i * 8 / 16) = floor(i / 2).
            const c = upsample === 'nearest' ? (cam8[n]?.[Math.floor(i / 2)]?.[Math.floor(j / 2)] as number) : (cam16[n]?.[i]?.[j] as number);
            for (let ch = 0; ch < 2; ch++) expected.push((gbv[n]?.[i]?.[j]?.[ch] as number) * c);
          }
        }
      }
      expectClose(r.values, expected, { rtol: 1e-6, what: `guided grad-cam, ${upsample}` });
      r.dispose();
    }
    gb.dispose();
    gc.dispose();
  });

  it("passes layer and batchSize on: another layer, small batches; uses this plugin's grad-cam when the registry has none", async () => {
    const r = await explain(guidedGradCam, { model, input: x, target: targets, options: { layer: 'conv2', batchSize: 1 }, registry });
    expect(r.layer).toBe('conv2');
    expect((r.extras['layerMap'] as tf.Tensor).shape).toEqual([2, 16, 16]);
    const gb = await explain(guidedBackprop, { model, input: x, target: targets, registry });
    const gc = await explain(gradCam, { model, input: x, target: targets, options: { layer: 'conv2' }, registry });
    const expected = tf.mul(gb.values, tf.expandDims(gc.values, -1));
    expectClose(r.values, expected, { rtol: 1e-6, what: 'conv2' });
    // A registry with guided-backprop and guided-grad-cam only.
    const lean = createRegistry().register(guidedBackprop, guidedGradCam);
    const r2 = await explain(guidedGradCam, { model, input: x, target: targets, options: { layer: 'conv2' }, registry: lean });
    expectClose(r2.values, expected, { rtol: 1e-6, what: 'without grad-cam registered' });
    tf.dispose(expected);
    [r, r2, gb, gc].forEach((a) => a.dispose());
  });

  it('without guided-backprop in the registry: UNKNOWN_EXPLAINER naming @cnn-xai/plugin-gradient, no tensors leaked', async () => {
    const camOnly = register(createRegistry());
    const error = await expectNoLeakedTensors(() => explain(guidedGradCam, { model, input: x, target: targets, registry: camOnly }), { allowThrow: true });
    expect(isCnnXaiError(error, 'UNKNOWN_EXPLAINER')).toBe(true);
    expect((error as Error).message).toMatch(/guided-backprop/);
    expect((error as Error).message).toMatch(/@cnn-xai\/plugin-gradient/);
  });

  it('takes one layer: a list is BAD_OPTION_VALUE, an unknown name UNKNOWN_LAYER, a dense layer NO_CONV_LAYER', async () => {
    await expect(explain(guidedGradCam, { model, input: x, options: { layer: ['conv2', 'conv3'] }, registry })).rejects.toSatisfy((e: unknown) =>
      isCnnXaiError(e, 'BAD_OPTION_VALUE'),
    );
    await expect(explain(guidedGradCam, { model, input: x, options: { layer: 'nope' }, registry })).rejects.toSatisfy((e: unknown) =>
      isCnnXaiError(e, 'UNKNOWN_LAYER'),
    );
    await expect(explain(guidedGradCam, { model, input: x, options: { layer: 'logits' }, registry })).rejects.toSatisfy((e: unknown) =>
      isCnnXaiError(e, 'NO_CONV_LAYER'),
    );
  });

  it('on a residual network: the product is zero wherever Grad-CAM is, and progress spans both parts', async () => {
    const resnet = tinyResnet();
    const y = inputFor(resnet, 2, 14);
    const seen: number[] = [];
    const r = await explain(guidedGradCam, { model: resnet, input: y, target: [1, 1], options: { upsample: 'nearest', batchSize: 1 }, registry, onProgress: (f) => seen.push(f) });
    // One image per pass: guided backprop reports 1/2 and 1 (mapped to 0.25, 0.5), Grad-CAM 1/2 and 1 (0.75, 1).
    expect(seen).toEqual(expect.arrayContaining([0.25, 0.5, 0.75, 1]));
    expect(seen.every((f, i) => i === 0 || f >= (seen[i - 1] as number))).toBe(true);
    const [, h, w, c] = r.values.shape as [number, number, number, number];
    const lm = r.extras['layerMap'] as tf.Tensor;
    const [, lh, lw] = lm.shape as [number, number, number];
    const cam = (await lm.array()) as number[][][];
    const v = (await r.values.array()) as number[][][][];
    let zeros = 0;
    for (let n = 0; n < 2; n++) {
      for (let i = 0; i < h; i++) {
        for (let j = 0; j < w; j++) {
          if ((cam[n]?.[Math.floor((i * lh) / h)]?.[Math.floor((j * lw) / w)] as number) !== 0) continue;
          zeros++;
          for (let ch = 0; ch < c; ch++) expect(Math.abs(v[n]?.[i]?.[j]?.[ch] as number)).toBe(0);
        }
      }
    }
    // Class 1 at block2_out: Grad-CAM is zero on part of the map and positive on the rest.
    expect(zeros).toBeGreaterThan(0);
    expect(zeros).toBeLessThan(2 * h * w);
    console.info(`[guided-grad-cam] tinyResnet: ${zeros} of ${2 * h * w} pixels of 2 images under a zero Grad-CAM cell`);
    r.dispose();
    y.dispose();
    resnet.dispose();
  });
});

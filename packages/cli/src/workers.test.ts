/**
 * Worker threads change nothing but the speed: every many-pass explainer (the ones that run the
 * model through `ctx.model.predict`, `ctx.inputGradient` or `ctx.layerGradient`) gives the same map, bit for bit,
 * with its passes split between this thread and a worker as on this thread alone. shapes-net
 * (BatchNorm, residual adds, depthwise and separable convs) is the model: the worker rebuilds it
 * from its serialized artifacts, so this also checks that the round trip is exact.
 */
import * as tf from '@tensorflow/tfjs-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { closeWorkers, createRegistry, explain, ModelTap, runningWorkers, selectBackend, workerStats, type Registry } from '@cnn-xai/core';
import { loadModel } from '@cnn-xai/core/node';
import { countTensors, maxAbs, maxAbsDiff } from '@cnn-xai/testing';
import { fixtures, readShapesSamples } from '@cnn-xai/fixtures';
import { loadPlugins } from './plugin-node.js';

/** The many-pass explainers and small settings for each. */
const CASES: Record<string, Record<string, unknown>> = {
  'integrated-gradients': { steps: 6, batchSize: 8 },
  smoothgrad: { samples: 5, batchSize: 4 },
  'guided-backprop': { batchSize: 2 },
  deconvnet: { batchSize: 2 },
  'gradient-shap': { samples: 6, batchSize: 5, noise: 0.05 },
  'score-cam': { batchSize: 16 },
  'integrated-grad-cam': { steps: 6, batchSize: 8 },
  sise: { batchSize: 24 },
  'ada-sise': { batchSize: 24 },
  occlusion: { window: 16, stride: 12, batchSize: 8 },
  rise: { samples: 48, batchSize: 16 },
  lime: { samples: 40, segments: 10, batchSize: 16 },
  'kernel-shap': { samples: 40, segments: 10, batchSize: 16 },
};

describe('workers: the same results with the passes split between threads (shapes-net, wasm)', () => {
  let registry: Registry;
  let tap: ModelTap;
  let pair: tf.Tensor4D;
  beforeAll(async () => {
    await selectBackend('wasm');
    registry = createRegistry();
    await loadPlugins(registry);
    tap = ModelTap.from(await loadModel(fixtures.shapesNet));
    const s = readShapesSamples();
    const px = 64 * 64 * 3;
    const data = new Float32Array(2 * px);
    data.set(s.images.subarray(0, px), 0);
    data.set(s.images.subarray(5 * px, 6 * px), px);
    pair = tf.tensor4d(data, [2, 64, 64, 3]);
  });
  afterAll(() => {
    pair.dispose();
    tap.model.dispose();
    tap.dispose();
    closeWorkers();
  });

  for (const [id, options] of Object.entries(CASES)) {
    it(`${id}: workers 1 equals workers 0 and leaks nothing`, async () => {
      const before = countTensors();
      const one = await explain(id, { model: tap, input: pair, options, registry, seed: 3, workers: 0 });
      const sent = workerStats().rows;
      const two = await explain(id, { model: tap, input: pair, options, registry, seed: 3, workers: 1 });
      // The worker did part of the passes.
      expect(workerStats().rows).toBeGreaterThan(sent);
      try {
        const a = (await one.values.data()) as Float32Array;
        const b = (await two.values.data()) as Float32Array;
        expect(a.length).toBe(b.length);
        expect(maxAbs(a)).toBeGreaterThan(0);
        expect(maxAbsDiff(a, b)).toBe(0);
        for (const key of ['delta', 'baseValue', 'r2']) {
          if (key in one.extras) expect(two.extras[key]).toEqual(one.extras[key]);
        }
      } finally {
        one.dispose();
        two.dispose();
      }
      expect(countTensors()).toBe(before);
      expect(runningWorkers()).toBeGreaterThan(0);
    });
  }

  it('a run that fails midway with workers leaks nothing and reports the typed error', async () => {
    const before = countTensors();
    const err = await explain('integrated-gradients', { model: tap, input: pair, options: { steps: 4 }, target: 99, registry, workers: 1 }).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'BAD_TARGET' });
    expect(countTensors()).toBe(before);
  });
});

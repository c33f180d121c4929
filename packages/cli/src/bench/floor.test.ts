import * as tf from '@tensorflow/tfjs-core';
import { blackBox, explain, ModelTap, resolveTarget, selectBackend } from '@cnn-xai/core';
import { gradCam } from '@cnn-xai/plugin-cam';
import { gradient, integratedGradients } from '@cnn-xai/plugin-gradient';
import { occlusion } from '@cnn-xai/plugin-perturbation';
import { inputFor, tinyVgg } from '@cnn-xai/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { countingPredictor, countingTap, emptyCallLog, type CallLog } from '../counting.js';
import { costFloor, floorOfCalls, floorRatio, gridPoints, interpolateCost, perImage, plannedRuns, skipBatch, type RawCosts } from './floor.js';
import { BENCH_SETTINGS, benchSetting } from './settings.js';

// Pass counting and floor arithmetic only: nothing here is timed.

const calls = (entries: Partial<Record<keyof CallLog, [number, number][]>>): CallLog => {
  const log = emptyCallLog();
  for (const [kind, list] of Object.entries(entries)) for (const [rows, n] of list ?? []) log[kind as keyof CallLog].set(rows, n);
  return log;
};

describe('raw cost floor', () => {
  const raw: RawCosts = { forward: 2, forwardBackward: 5, forwardBackwardToLayer: 3, head: 0.5 };

  it('prices forward-only passes, input gradients, layer gradients and head runs', () => {
    // IG-like: 50 gradients + 2 plain forwards per image.
    expect(costFloor({ forward: 52, backward: 50, layerBackward: 0, head: 0 }, raw)).toBe(2 * 2 + 50 * 5);
    // Grad-CAM-like: one forward+backward to a layer.
    expect(costFloor({ forward: 1, backward: 1, layerBackward: 1, head: 0 }, raw)).toBe(3);
    // Ablation-CAM-like: one forward and 128 head runs.
    expect(costFloor({ forward: 1, backward: 0, layerBackward: 0, head: 128 }, raw)).toBe(2 + 64);
    // Occlusion-like: forwards only.
    expect(costFloor({ forward: 170, backward: 0, layerBackward: 0, head: 0 }, raw)).toBe(340);
    expect(costFloor({ forward: 0, backward: 0, layerBackward: 0, head: 0 }, raw)).toBe(0);
  });

  it('per call equals the formula when every call has the same batch size', () => {
    const log = calls({ forward: [[4, 1]], gradient: [[4, 50]], layerGradient: [[4, 2]], head: [[4, 3]] });
    const cost = (kind: keyof CallLog): number =>
      ({ forward: raw.forward, gradient: raw.forwardBackward, layerGradient: raw.forwardBackwardToLayer, head: raw.head })[kind];
    // 4 images: per image 53 forwards (1 + 50 + 2), 52 backwards of which 2 to a layer, 3 head runs.
    const passes = { forward: 53, backward: 52, layerBackward: 2, head: 3 };
    expect(floorOfCalls(log, 4, cost)).toBeCloseTo(costFloor(passes, raw), 12);
  });

  it('prices each call at its own batch size', () => {
    // One image, 170 forwards in calls of 64, 64 and 42: the batch-64 and batch-42 costs, not the batch-1 cost.
    const log = calls({ forward: [[64, 2], [42, 1]] });
    const perImageCost = new Map([[1, 4], [32, 1.5], [64, 1]]);
    const cost = (_: keyof CallLog, rows: number): number => interpolateCost(rows, perImageCost);
    const at42 = 1.5 + ((Math.log(42) - Math.log(32)) / Math.log(2)) * (1 - 1.5);
    expect(floorOfCalls(log, 1, cost)).toBeCloseTo(128 * 1 + 42 * at42, 9);
  });

  it('interpolates per-image costs in log(batch) between grid points, flat past the grid', () => {
    expect(gridPoints(1)).toEqual([1]);
    expect(gridPoints(64)).toEqual([64]);
    expect(gridPoints(50)).toEqual([32, 64]);
    expect(gridPoints(3, [3])).toEqual([3]);
    expect(gridPoints(20, [24])).toEqual([16, 24]);
    expect(gridPoints(1000)).toEqual([256]);
    const m = new Map([[1, 8], [2, 6], [256, 1]]);
    expect(interpolateCost(1, m)).toBe(8);
    expect(interpolateCost(2, m)).toBe(6);
    expect(interpolateCost(5000, m)).toBe(1);
    expect(() => interpolateCost(3, m)).toThrow(/batch 4/);
  });

  it('passes per image, ratios, runs and skips', () => {
    expect(perImage({ forward: 64, backward: 32, layerBackward: 0, head: 4096 }, 32)).toEqual({ forward: 2, backward: 1, layerBackward: 0, head: 128 });
    expect(() => perImage({ forward: 1, backward: 0, layerBackward: 0, head: 0 }, 0)).toThrow();
    expect(floorRatio(6, 5)).toBeCloseTo(1.2, 12);
    expect(floorRatio(6, 0)).toBeNull();
    expect(plannedRuns(10, 3, 5000)).toBe(3); // fast: every run
    expect(plannedRuns(2000, 3, 5000)).toBe(2); // slow: fewer
    expect(plannedRuns(4000, 3, 5000)).toBe(1);
    expect(plannedRuns(6000, 3, 5000)).toBe(0); // the warm-up was the measurement
    expect(plannedRuns(6000, 3, Infinity)).toBe(3); // --full
    expect(skipBatch(600, 32, 15_000)).toBe(true);
    expect(skipBatch(400, 32, 15_000)).toBe(false);
    expect(skipBatch(600, 32, 0)).toBe(false);
    expect(skipBatch(undefined, 32, 15_000)).toBe(false);
  });

  it('has Captum reference settings for the methods issue 9 names', () => {
    expect(BENCH_SETTINGS['integrated-gradients']?.options).toMatchObject({ steps: 50 });
    expect(BENCH_SETTINGS['smoothgrad']?.options).toMatchObject({ samples: 50, noise: 0.15 });
    expect(BENCH_SETTINGS['occlusion']?.options).toMatchObject({ window: 4, stride: 2 });
    expect(BENCH_SETTINGS['lime']?.options).toMatchObject({ samples: 200, features: 'grid', grid: 7 });
    expect(BENCH_SETTINGS['kernel-shap']?.options).toMatchObject({ samples: 198, features: 'grid', grid: 7 });
    expect(BENCH_SETTINGS['rise']?.options).toMatchObject({ samples: 2000 });
    expect(benchSetting('no-such-method')).toMatchObject({ options: {}, torch: null });
  });
});

describe('pass counting', () => {
  let tap: ModelTap;
  let x: tf.Tensor4D;
  beforeAll(async () => {
    await selectBackend('wasm');
    tap = new ModelTap(tinyVgg());
    x = inputFor(tap.model, 3, 7);
  });
  afterAll(() => {
    x.dispose();
    tap.dispose();
  });

  it('counts tap calls in images, by kind and batch size', () => {
    const c = countingTap(tap);
    expect(c.tap).toBeInstanceOf(ModelTap);
    const target = resolveTarget('top', tap, x);
    tf.tidy(() => {
      c.tap.predict(x);
      c.tap.gradient(x, (out) => target.score(out));
      const g = c.tap.gradient(x, (out) => target.score(out), { layer: 'conv3' });
      const h = c.tap.head('conv3');
      h.run(g.activation as tf.Tensor);
      h.dispose();
    });
    expect(c.counts).toEqual({ forward: 9, backward: 6, layerBackward: 3, head: 3 });
    expect([...c.calls.forward]).toEqual([[3, 1]]);
    expect([...c.calls.gradient]).toEqual([[3, 1]]);
    expect([...c.calls.layerGradient]).toEqual([[3, 1]]);
    expect([...c.calls.head]).toEqual([[3, 1]]);
    c.reset();
    expect(c.counts).toEqual({ forward: 0, backward: 0, layerBackward: 0, head: 0 });
    expect(c.calls.forward.size).toBe(0);
  });

  it('counts what explainers do through explain(): gradients, layer gradients, batched steps', async () => {
    const c = countingTap(tap);
    const run = async (ex: Parameters<typeof explain>[0], options: Record<string, unknown> = {}) => {
      c.reset();
      (await explain(ex, { model: c.tap, input: x, target: [0, 1, 2], options })).dispose();
      return perImage(c.counts, 3);
    };
    expect(await run(gradient)).toMatchObject({ forward: 1, backward: 1, layerBackward: 0 });
    expect(await run(gradCam)).toMatchObject({ backward: 1, layerBackward: 1 });
    const ig = await run(integratedGradients, { steps: 8, batchSize: 16 });
    expect(ig.backward).toBe(8);
    // 24 points in calls of at most 16 rows.
    expect([...c.calls.gradient].reduce((s, [rows, n]) => s + rows * n, 0)).toBe(24);
    expect(Math.max(...c.calls.gradient.keys())).toBeLessThanOrEqual(16);
  });

  it('counts black-box forward passes, through the tap and through a Predictor', async () => {
    const c = countingTap(tap);
    (await explain(occlusion, { model: c.tap, input: x, target: [0, 1, 2], options: { window: 4, stride: 4 } })).dispose();
    // 16x16 image, window 4, stride 4: 16 windows per image, plus the unoccluded image.
    expect(perImage(c.counts, 3)).toMatchObject({ forward: 17, backward: 0 });

    const box = countingPredictor(blackBox((b) => tap.predict(b), { inputShape: [16, 16, 1] }));
    (await explain(occlusion, { model: box.model, input: x, target: [0, 1, 2], options: { window: 4, stride: 4 } })).dispose();
    expect(perImage(box.counts, 3).forward).toBe(17);
    expect(box.counts.backward).toBe(0);
  });
});

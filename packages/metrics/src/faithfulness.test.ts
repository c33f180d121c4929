import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { beforeAll, describe, expect, it } from 'vitest';
import { blackBox, createRandom, isCnnXaiError, selectBackend } from '@cnn-xai/core';
import { expectNoLeakedTensors } from '@cnn-xai/testing';
import { averageDropIncrease, deletion, insertion, trapezoidAuc } from './faithfulness.js';

/** logits = [Σ_p weights[p] · x_p, 0] on an H x W x 1 input: the class-0 score is a known weighted sum. */
function weightedSumModel(h: number, w: number, weights: number[]): tfl.LayersModel {
  const input = tfl.input({ shape: [h, w, 1] });
  const flat = tfl.layers.flatten().apply(input) as tfl.SymbolicTensor;
  const dense = tfl.layers.dense({ units: 2, name: 'logits' });
  const model = tfl.model({ inputs: input, outputs: dense.apply(flat) as tfl.SymbolicTensor });
  const kernel = tf.tensor2d(weights.flatMap((v) => [v, 0]), [h * w, 2]);
  const bias = tf.zeros([2]);
  dense.setWeights([kernel, bias]);
  tf.dispose([kernel, bias]);
  return model;
}

const sigmoid = (z: number): number => 1 / (1 + Math.exp(-z));

/** The central 4x4 block of an 8x8 image: 16 pixels. */
const REGION = Array.from({ length: 64 }, (_, p) => {
  const y = Math.floor(p / 8);
  const x = p % 8;
  return y >= 2 && y < 6 && x >= 2 && x < 6 ? 1 : 0;
});

describe('deletion and insertion on a model whose score is the sum over a known region', () => {
  let model: tfl.LayersModel;
  let x: tf.Tensor4D;
  let maps: tf.Tensor3D;
  beforeAll(async () => {
    await selectBackend('wasm');
    model = weightedSumModel(8, 8, REGION);
    x = tf.ones([3, 8, 8, 1]);
    const random = Array.from(createRandom(7).uniformArray(64));
    // perfect (the region first), random, adversarial (the region last)
    maps = tf.tensor3d([REGION, random, REGION.map((v) => 1 - v)].flat(), [3, 8, 8]);
  });

  it('trapezoid AUC on a unit x-axis (RISE)', () => {
    expect(trapezoidAuc([1, 1, 1])).toBe(1);
    expect(trapezoidAuc([1, 0])).toBe(0.5);
    expect(trapezoidAuc([16, 12, 8, 4, 0])).toBeCloseTo((40 - 8) / 4, 12);
  });

  it('raw scores: the exact AUCs of the perfect and adversarial maps; random in between', async () => {
    const r = await expectNoLeakedTensors(() =>
      deletion({ model, input: x, attribution: maps, target: 0, options: { step: 4, score: 'raw' } }),
    );
    // Perfect: scores 16, 12, 8, 4, then 0 for 13 more steps: (40 - 16/2 - 0/2) / 16 = 2.
    expect(r.perImage[0]).toBeCloseTo(2, 5);
    // Adversarial: 16 for 13 steps, then 12, 8, 4, 0: (232 - 8) / 16 = 14.
    expect(r.perImage[2]).toBeCloseTo(14, 5);
    expect(r.perImage[1]).toBeGreaterThan(2);
    expect(r.perImage[1]).toBeLessThan(14);
    expect(r.details?.['steps']).toBe(16);
    const ins = await insertion({ model, input: x, attribution: maps, target: 0, options: { step: 4, score: 'raw', baseline: 'zeros' } });
    expect(ins.perImage[0]).toBeCloseTo(14, 5);
    expect(ins.perImage[2]).toBeCloseTo(2, 5);
    expect(ins.perImage[1]).toBeGreaterThan(2);
    expect(ins.perImage[1]).toBeLessThan(14);
  });

  it('softmax scores (default): perfect < random < adversarial for deletion, reversed for insertion', async () => {
    const del = await deletion({ model, input: x, attribution: maps, target: 0 });
    expect(del.options['step']).toBe(1); // auto: ceil(64 / 64)
    const curve = Array.from({ length: 65 }, (_, k) => sigmoid(Math.max(0, 16 - k)));
    expect(del.perImage[0]).toBeCloseTo(trapezoidAuc(curve), 5);
    const [p, r, a] = del.perImage as [number, number, number];
    expect(p).toBeLessThan(r);
    expect(r).toBeLessThan(a);
    const ins = await insertion({ model, input: x, attribution: maps, target: 0, options: { baseline: 'zeros' } });
    const [pi, ri, ai] = ins.perImage as [number, number, number];
    expect(pi).toBeGreaterThan(ri);
    expect(ri).toBeGreaterThan(ai);
    expect(pi).toBeLessThanOrEqual(1);
    expect(ai).toBeGreaterThanOrEqual(0);
  });

  it('batching does not change the numbers; channel maps are summed; a black box works', async () => {
    const a = await deletion({ model, input: x, attribution: maps, target: 0, options: { step: 3, batchSize: 5 } });
    const b = await deletion({ model, input: x, attribution: maps, target: 0, options: { step: 3, batchSize: 500 } });
    expect(a.perImage).toEqual(b.perImage);
    const channels = tf.stack([tf.mul(maps, 0.25), tf.mul(maps, 0.75)], 3);
    const c = await deletion({ model, input: x, attribution: channels, target: 0, options: { step: 3 } });
    channels.dispose();
    expect(c.perImage.map((v) => v.toFixed(6))).toEqual(a.perImage.map((v) => v.toFixed(6)));
    const box = blackBox((batch) => model.predict(batch) as tf.Tensor, { inputShape: [8, 8, 1] });
    const d = await deletion({ model: box, input: x, attribution: maps, target: 0, options: { step: 3 } });
    expect(d.perImage.map((v) => v.toFixed(5))).toEqual(a.perImage.map((v) => v.toFixed(5)));
  });

  it('the default target is the predicted class; a mismatched map is a typed error naming the shapes', async () => {
    const r = await deletion({ model, input: x, attribution: maps, options: { step: 8 } });
    expect(r.details?.['classes']).toEqual([0, 0, 0]); // logit 16 > 0
    const bad = tf.zeros([3, 4, 4]);
    const err = await deletion({ model, input: x, attribution: bad }).catch((e: unknown) => e);
    bad.dispose();
    expect(isCnnXaiError(err, 'BAD_INPUT_SHAPE')).toBe(true);
    expect((err as Error).message).toMatch(/\[3, 4, 4\].*must be \[3, 8, 8\] or \[3, 8, 8, 1\]/);
    const badOpt = await insertion({ model, input: x, attribution: maps, options: { baseline: 'noise' } }).catch((e: unknown) => e);
    expect(isCnnXaiError(badOpt, 'BAD_OPTION_VALUE')).toBe(true);
  });
});

describe('Average Drop and Increase in Confidence on a hand-computed case', () => {
  beforeAll(async () => {
    await selectBackend('wasm');
  });

  it('keeps the top 25% of 16 pixels; Drop = mean max(0, Y - O) / Y, Increase = share with O > Y', async () => {
    // 4x4 input; logit 0 = Σ_R x - 0.5 Σ_notR x, R = pixels 5, 6, 9, 10; logit 1 = 0.
    const R = [5, 6, 9, 10];
    const model = weightedSumModel(4, 4, Array.from({ length: 16 }, (_, p) => (R.includes(p) ? 1 : -0.5)));
    const img1 = new Array<number>(16).fill(1); // Y1 = σ(4 - 6) = σ(-2)
    const img2 = Array.from({ length: 16 }, (_, p) => (R.includes(p) ? 1 : 0)); // Y2 = σ(4)
    const map1 = Array.from({ length: 16 }, (_, p) => (R.includes(p) ? 1 : 0)); // keeps R: O1 = σ(4) > Y1
    const map2 = Array.from({ length: 16 }, (_, p) => (p === 5 || p === 6 ? 2 : p === 0 || p === 1 ? 1 : 0)); // keeps 5, 6, 0, 1: O2 = σ(2)
    const x = tf.tensor4d([...img1, ...img2], [2, 4, 4, 1]);
    const maps = tf.tensor3d([...map1, ...map2], [2, 4, 4]);
    const r = await expectNoLeakedTensors(() => averageDropIncrease({ model, input: x, attribution: maps, target: 0, options: { keep: 0.25 } }));
    const drop2 = ((sigmoid(4) - sigmoid(2)) / sigmoid(4)) * 100;
    expect(r.full[0]).toBeCloseTo(sigmoid(-2), 6);
    expect(r.explanation[0]).toBeCloseTo(sigmoid(4), 6);
    expect(r.explanation[1]).toBeCloseTo(sigmoid(2), 6);
    expect(r.averageDrop.perImage[0]).toBe(0);
    expect(r.averageDrop.perImage[1]).toBeCloseTo(drop2, 4);
    expect(r.averageDrop.value).toBeCloseTo(drop2 / 2, 4);
    expect(r.increase.perImage).toEqual([100, 0]);
    expect(r.increase.value).toBe(50);
    expect(r.averageDrop.options['keptPixels']).toBe(4);
    tf.dispose([x, maps]);
    model.dispose();
  });
});

import * as tf from '@tensorflow/tfjs-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { countTensors, inputFor, tinyVgg } from '../../testing/src/index.js';
import { selectBackend } from './backend.js';
import { blackBox, BlackBoxModel } from './black-box.js';
import { defineExplainer } from './define-explainer.js';
import { CnnXaiError } from './errors.js';
import { explain } from './explain.js';
import { opt } from './options.js';
import { createRegistry } from './registry.js';
import { ModelTap } from './tap/tap.js';

async function errorOf(p: Promise<unknown>): Promise<CnnXaiError> {
  try {
    await p;
  } catch (e) {
    expect(e).toBeInstanceOf(CnnXaiError);
    return e as CnnXaiError;
  }
  throw new Error('expected a rejection');
}

/** A black-box explainer: the target score of each image, broadcast over its pixels. */
const scoreMap = defineExplainer({
  id: 'score-map',
  name: 'Score map',
  family: 'test',
  kind: 'perturbation',
  description: 'test explainer',
  requires: { gradients: false },
  options: { batchSize: opt.integer({ default: 2, min: 1, max: 64, description: 'Batch.' }) },
  async explain(input, ctx) {
    const out = await ctx.model.predict(input);
    const s = ctx.target.score(out);
    const [n, h, w] = input.shape;
    return { values: tf.mul(tf.reshape(s, [n, 1, 1]), tf.ones([n, h, w])), signed: true, extras: {} };
  },
});

const needsGradients = defineExplainer({ ...scoreMap, id: 'needs-gradients', requires: { gradients: true } });
const peeksAtTap = defineExplainer({
  ...scoreMap,
  id: 'peeks',
  async explain(input, ctx) {
    return { values: ctx.tap.predict(input), signed: true, extras: {} };
  },
});

describe('black-box models', () => {
  const registry = createRegistry().register(scoreMap).register(needsGradients).register(peeksAtTap);
  // f(x) = [sum x, 2 sum x, -sum x]: a linear "model" from another runtime.
  const calls: number[] = [];
  const fn = (batch: tf.Tensor4D): tf.Tensor => {
    calls.push(batch.shape[0]);
    return tf.tidy(() => {
      const s = tf.sum(batch, [1, 2, 3]);
      return tf.stack([s, tf.mul(s, 2), tf.neg(s)], 1);
    });
  };
  beforeAll(async () => {
    await selectBackend('cpu');
  });

  it('splits a batch into calls of at most batchSize and concatenates the scores', async () => {
    calls.length = 0;
    const box = blackBox(fn, { inputShape: [2, 2, 1], batchSize: 2 });
    const x = tf.tensor4d(Array.from({ length: 20 }, (_, i) => i), [5, 2, 2, 1]);
    const out = await box.predict(x);
    expect(calls).toEqual([2, 2, 1]);
    expect(out.shape).toEqual([5, 3]);
    const sums = [6, 22, 38, 54, 70];
    expect(Array.from(await out.data())).toEqual(sums.flatMap((s) => [s, 2 * s, -s]));
    out.dispose();
    x.dispose();
  });

  it('explain() runs black-box explainers on it, resolves top and fixed targets, and leaks nothing', async () => {
    const box = blackBox(async (b) => fn(b), { inputShape: [2, 2, 1], batchSize: 3, numClasses: 3 });
    const x = tf.tensor4d([1, 1, 1, 1, -1, -1, -1, -1], [2, 2, 2, 1]);
    const before = countTensors();
    const res = await explain(scoreMap, { model: box, input: x, registry });
    // top class: 1 (2 sum x) for the positive image, 2 (-sum x) for the negative one.
    expect(res.target).toEqual([1, 2]);
    expect(Array.from(await res.values.data())).toEqual([8, 8, 8, 8, 4, 4, 4, 4]);
    res.dispose();
    const fixed = await explain('score-map', { model: box, input: x, target: 0, registry });
    expect(Array.from(await fixed.values.data())).toEqual([4, 4, 4, 4, -4, -4, -4, -4]);
    fixed.dispose();
    expect(countTensors()).toBe(before);
    const bad = await errorOf(explain(scoreMap, { model: box, input: x, target: 3, registry }));
    expect((bad as CnnXaiError).code).toBe('BAD_TARGET');
    expect(countTensors()).toBe(before);
    x.dispose();
  });

  it('gives the same scores as the tap when the function wraps a LayersModel', async () => {
    const model = tinyVgg();
    const tap = ModelTap.from(model);
    const box = blackBox((b) => tap.predict(b), { inputShape: tap.inputShape as number[], batchSize: 2 });
    const x = inputFor(model, 3, 7);
    const a = await explain(scoreMap, { model: tap, input: x, registry });
    const b = await explain(scoreMap, { model: box, input: x, registry });
    expect(b.target).toEqual(a.target);
    expect(Array.from(await b.values.data())).toEqual(Array.from(await a.values.data()));
    a.dispose();
    b.dispose();
    x.dispose();
    tap.dispose();
    model.dispose();
  });

  it('refuses explainers that need gradients or layers, naming the black-box ones', async () => {
    const box = blackBox(fn, { inputShape: [2, 2, 1] });
    const x = tf.zeros([1, 2, 2, 1]);
    const before = countTensors();
    const e = (await errorOf(explain(needsGradients, { model: box, input: x, registry }))) as CnnXaiError;
    expect(e).toBeInstanceOf(CnnXaiError);
    expect(e.code).toBe('UNSUPPORTED_MODEL');
    expect(e.message).toContain('needs-gradients');
    expect(e.message).toContain('score-map');
    const peek = (await errorOf(explain(peeksAtTap, { model: box, input: x, registry }))) as CnnXaiError;
    expect(peek.code).toBe('UNSUPPORTED_MODEL');
    expect(countTensors()).toBe(before);
    x.dispose();
  });

  it('reports bad shapes and bad scores as typed errors and releases what the function returned', async () => {
    expect(() => blackBox(fn, { inputShape: [2, 2] as unknown as number[] })).toThrow(/inputShape/);
    expect(() => blackBox('nope' as unknown as typeof fn, { inputShape: [2, 2, 1] })).toThrow(CnnXaiError);
    const box = new BlackBoxModel(fn, { inputShape: [2, 2, 1] });
    const wrong = tf.zeros([1, 3, 3, 1]);
    const shapeErr = (await errorOf(explain(scoreMap, { model: box, input: wrong, registry }))) as CnnXaiError;
    expect(shapeErr.code).toBe('BAD_INPUT_SHAPE');
    expect(shapeErr.message).toContain('[N, 2, 2, 1]');
    wrong.dispose();
    const x = tf.zeros([3, 2, 2, 1]);
    const before = countTensors();
    const rowsWrong = blackBox(() => tf.zeros([1, 3]), { inputShape: [2, 2, 1] });
    const e1 = (await errorOf(rowsWrong.predict(x))) as CnnXaiError;
    expect(e1.code).toBe('UNSUPPORTED_MODEL');
    expect(e1.message).toMatch(/batch size/);
    const notTensor = blackBox(() => [1, 2, 3] as unknown as tf.Tensor, { inputShape: [2, 2, 1] });
    expect(((await errorOf(notTensor.predict(x))) as CnnXaiError).code).toBe('UNSUPPORTED_MODEL');
    const classes = blackBox(fn, { inputShape: [2, 2, 1], numClasses: 10 });
    expect(((await errorOf(classes.predict(x))) as CnnXaiError).message).toMatch(/10 classes/);
    expect(countTensors()).toBe(before);
    x.dispose();
  });

  afterAll(() => undefined);
});

describe('black boxes with a single score per image', () => {
  it('[N] and [N, 1] outputs are explained with target 0 and top', async () => {
    await selectBackend('cpu');
    const registry = createRegistry().register(scoreMap);
    for (const shape of ['flat', 'column'] as const) {
      const box = blackBox((b) => tf.tidy(() => (shape === 'flat' ? tf.sum(b, [1, 2, 3]) : tf.reshape(tf.sum(b, [1, 2, 3]), [-1, 1]))), {
        inputShape: [1, 2, 1],
      });
      const x = tf.tensor4d([1, 2, 3, 4], [2, 1, 2, 1]);
      for (const target of [0, 'top'] as const) {
        const res = await explain(scoreMap, { model: box, input: x, target, registry });
        expect(res.target).toEqual([0, 0]);
        expect(Array.from(await res.values.data())).toEqual([3, 3, 7, 7]);
        res.dispose();
      }
      x.dispose();
    }
  });
});

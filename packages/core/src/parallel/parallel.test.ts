import * as tf from '@tensorflow/tfjs-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { countTensors, inputFor, maxAbs, maxAbsDiff, tinyMobilenet, tinyResnet, tinyVgg } from '../../../testing/src/index.js';
import { selectBackend } from '../backend.js';
import { defineExplainer } from '../define-explainer.js';
import { CnnXaiError } from '../errors.js';
import { explain } from '../explain.js';
import { createRegistry } from '../registry.js';
import { deconvReluRule, guidedReluRule } from '../tap/relu-rules.js';
import { ModelTap } from '../tap/tap.js';
import { classScores } from '../targets.js';
import { closeWorkers, cpuCount, runningWorkers, workerStats } from './pool.js';
import { ParallelTap, resolveWorkers, splitRows } from './runner.js';

// The worker entry is dist/parallel/worker.js: the root `test` script builds before running.

async function values(t: tf.Tensor): Promise<Float32Array> {
  const v = (await t.data()) as Float32Array;
  t.dispose();
  return v;
}

describe('splitRows', () => {
  it('splits n rows into consecutive ranges whose sizes differ by at most one', () => {
    expect(splitRows(10, 2)).toEqual([[0, 5], [5, 10]]);
    expect(splitRows(7, 3)).toEqual([[0, 3], [3, 5], [5, 7]]);
    expect(splitRows(2, 4)).toEqual([[0, 1], [1, 2]]);
    expect(splitRows(1, 1)).toEqual([[0, 1]]);
  });
});

describe('ParallelTap (worker threads on wasm)', () => {
  beforeAll(async () => {
    await selectBackend('wasm');
  });
  afterAll(() => closeWorkers());

  it('predict, inputGradient and layerGradient equal the tap on one thread, bit for bit, on three architectures', async () => {
    for (const create of [tinyVgg, tinyResnet, tinyMobilenet]) {
      const model = create();
      const tap = new ModelTap(model);
      const x = inputFor(model, 7, 3) as tf.Tensor4D;
      const classes = [0, 1, 2, 3, 0, 1, 2];
      const par = new ParallelTap(tap, 2, true);
      expect(par.threads).toBe(3);
      const before = countTensors();
      const [p1, g1] = [await values(await par.predict(x)), await values(await par.inputGradient(x, classes))];
      expect(countTensors()).toBe(before);
      const layer = tap.lastSpatialLayer().name;
      const lg = await par.layerGradient(x, classes, layer);
      const [lg1, la1] = [await values(lg.gradient), await values(lg.activation)];
      expect(countTensors()).toBe(before);
      const ref = tap.gradient(x, (out) => classScores(out, classes), { layer });
      const [lg0, la0] = [await values(ref.gradient), await values(ref.activation as tf.Tensor)];
      tf.dispose([ref.output, ref.scores]);
      expect(maxAbs(lg0)).toBeGreaterThan(0);
      expect(maxAbsDiff(lg1, lg0)).toBe(0);
      expect(maxAbsDiff(la1, la0)).toBe(0);
      const p0 = await values(tap.predict(x));
      const g0 = await values(tf.tidy(() => tap.gradient(x, (out) => classScores(out, classes)).gradient));
      expect(maxAbs(g0)).toBeGreaterThan(0);
      expect(maxAbsDiff(p1, p0)).toBe(0);
      expect(maxAbsDiff(g1, g0)).toBe(0);
      x.dispose();
      tap.dispose();
      model.dispose();
    }
    expect(runningWorkers()).toBe(2);
  });

  it('on the cpu backend too (workers start their own cpu backend), bit for bit', async () => {
    await selectBackend('cpu');
    try {
      const model = tinyResnet();
      const tap = new ModelTap(model);
      const x = inputFor(model, 5, 11) as tf.Tensor4D;
      const classes = [3, 2, 1, 0, 3];
      const par = new ParallelTap(tap, 1, true);
      const before = countTensors();
      const sent = workerStats().rows;
      const [p1, g1] = [await values(await par.predict(x)), await values(await par.inputGradient(x, classes))];
      expect(workerStats().rows - sent).toBe(4); // 2 of the 5 rows, twice
      expect(countTensors()).toBe(before);
      const p0 = await values(tap.predict(x));
      const g0 = await values(tf.tidy(() => tap.gradient(x, (out) => classScores(out, classes)).gradient));
      expect(maxAbs(g0)).toBeGreaterThan(0);
      expect(maxAbsDiff(p1, p0)).toBe(0);
      expect(maxAbsDiff(g1, g0)).toBe(0);
      // x is intact (the split read it, and the cpu backend hands out its own storage).
      expect(maxAbsDiff(await values(tap.predict(x)), p0)).toBe(0);
      x.dispose();
      tap.dispose();
      model.dispose();
    } finally {
      await selectBackend('wasm');
    }
  });

  it('applies named backward rules (guided backprop, deconvnet) in the workers too; an unknown name is a typed error', async () => {
    const model = tinyVgg();
    const tap = new ModelTap(model);
    const x = inputFor(model, 4, 13) as tf.Tensor4D;
    const classes = [0, 1, 2, 3];
    const par = new ParallelTap(tap, 1, true);
    for (const [rule, override] of [['guided-relu', guidedReluRule], ['deconv-relu', deconvReluRule]] as const) {
      const g1 = await values(await par.inputGradient(x, classes, { rule }));
      const g0 = await values(tf.tidy(() => tap.gradient(x, (out) => classScores(out, classes), { overrides: [override] }).gradient));
      const plain = await values(tf.tidy(() => tap.gradient(x, (out) => classScores(out, classes)).gradient));
      expect(maxAbsDiff(g0, plain)).toBeGreaterThan(0);
      expect(maxAbsDiff(g1, g0)).toBe(0);
    }
    await expect(par.inputGradient(x, classes, { rule: 'nope' as 'guided-relu' })).rejects.toMatchObject({ code: 'BAD_OPTION_VALUE' });
    x.dispose();
    tap.dispose();
    model.dispose();
  });

  it('sends new weights to the workers after setWeights (no stale copies)', async () => {
    const model = tinyVgg();
    const tap = new ModelTap(model);
    const par = new ParallelTap(tap, 1, true);
    const x = inputFor(model, 4, 5) as tf.Tensor4D;
    const first = await values(await par.predict(x));
    const w = model.getWeights();
    model.setWeights(w.map((t) => tf.mul(t, 0.5)));
    const second = await values(await par.predict(x));
    const local = await values(tap.predict(x));
    expect(maxAbsDiff(first, second)).toBeGreaterThan(1e-3);
    expect(maxAbsDiff(second, local)).toBe(0);
    tf.dispose(x);
    tap.dispose();
    model.dispose();
  });

  it('resolves workers: auto is one per CPU beyond the first on wasm, bad values are typed errors', async () => {
    expect(await resolveWorkers('auto')).toBe(Math.max(0, Math.min(7, (await cpuCount()) - 1)));
    expect(await resolveWorkers(3)).toBe(3);
    expect(await resolveWorkers(0)).toBe(0);
    for (const bad of [-1, 1.5, 'two', 100]) {
      const e = await resolveWorkers(bad as number).catch((err: unknown) => err);
      expect(e).toBeInstanceOf(CnnXaiError);
      expect((e as CnnXaiError).code).toBe('BAD_OPTION_VALUE');
      expect((e as CnnXaiError).message).toMatch(/workers must be "auto" or an integer/);
    }
  });

  it('explain() gives ctx.inputGradient and ctx.model the same results with and without workers, for class and function targets', async () => {
    const gxi = defineExplainer({
      id: 'test-split-gxi',
      name: 'split gradient x input',
      family: 'test',
      kind: 'gradient',
      description: 'test',
      requires: { gradients: true },
      options: {},
      async explain(input, ctx) {
        const rows = [...Array(input.shape[0]).keys()];
        const g = await ctx.inputGradient(tf.concat([input, input], 0), [...rows, ...rows]);
        const out = await ctx.model.predict(input);
        return { values: tf.mul(tf.slice(g, 0, input.shape[0]), input), signed: true, extras: { threads: ctx.threads, out } };
      },
    });
    const registry = createRegistry();
    registry.register(gxi);
    const model = tinyResnet();
    const x = inputFor(model, 5, 9) as tf.Tensor4D;
    for (const target of [[1, 0, 2, 3, 1], (out: tf.Tensor) => tf.sum(out, 1) as tf.Tensor1D] as const) {
      const before = countTensors();
      const a = await explain('test-split-gxi', { model, input: x, target, registry, workers: 0 });
      const b = await explain('test-split-gxi', { model, input: x, target, registry, workers: 1 });
      expect(a.extras['threads']).toBe(1);
      expect(b.extras['threads']).toBe(2);
      expect(maxAbs(await a.values.data())).toBeGreaterThan(0);
      expect(maxAbsDiff(await a.values.data(), await b.values.data())).toBe(0);
      expect(maxAbsDiff(await (a.extras['out'] as tf.Tensor).data(), await (b.extras['out'] as tf.Tensor).data())).toBe(0);
      a.dispose();
      b.dispose();
      expect(countTensors()).toBe(before);
    }
    const bad = await explain('test-split-gxi', { model, input: x, registry, workers: -2 }).catch((e: unknown) => e);
    expect((bad as CnnXaiError).code).toBe('BAD_OPTION_VALUE');
    x.dispose();
    model.dispose();
  });
});

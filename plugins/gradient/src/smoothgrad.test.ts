import * as tf from '@tensorflow/tfjs-core';
import type { LayersModel } from '@tensorflow/tfjs-layers';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  createRegistry,
  defineExplainer,
  explain,
  isCnnXaiError,
  opt,
  selectBackend,
  type AnyExplainer,
  type ExplainRequest,
  type Registry,
} from '@cnn-xai/core';
import { countTensors, expectClose, expectNoLeakedTensors, inputFor, linearModel, maxAbsDiff, randomInput, tinyVgg } from '@cnn-xai/testing';
import { gradient, guidedBackprop, integratedGradients, register, smoothgrad } from './index.js';

const registry = register(createRegistry());

async function run(ex: AnyExplainer, req: Partial<ExplainRequest> & Pick<ExplainRequest, 'model' | 'input'>, reg: Registry = registry) {
  const r = await explain(ex, { registry: reg, ...req });
  const values = Float32Array.from(await r.values.data());
  const out = { values, signed: r.signed, shape: r.values.shape, extras: r.extras };
  r.dispose();
  return out;
}

interface ProbeCall {
  rows: number;
  classes: number[] | null;
  batchSize: number;
  /** The class each row was scored for, read back through ctx.target.score. */
  scoredClasses: number[];
}
const calls: ProbeCall[] = [];
const K = 3;

/** A gradient-kind explainer that returns its (noisy) input as the map and records how it was called. */
const probe = defineExplainer({
  id: 'probe',
  name: 'Probe',
  family: 'test',
  kind: 'gradient',
  description: 'Returns its input; records the rows, targets and options it got.',
  requires: { gradients: false },
  options: { batchSize: opt.integer({ default: 2, min: 1, max: 5, description: 'Recorded only.' }) },
  async explain(x, ctx, o) {
    const b = x.shape[0];
    // A fake output whose row r, class c holds 100 r + c: each row's score tells its class.
    const scores = tf.tidy(() => {
      const out = tf.add(tf.mul(tf.reshape(tf.range(0, b), [b, 1]), 100), tf.reshape(tf.range(0, K), [1, K]));
      return Array.from(ctx.target.score(out).dataSync());
    });
    calls.push({ rows: b, classes: ctx.target.classes, batchSize: o.batchSize, scoredClasses: scores.map((s, r) => s - 100 * r) });
    return { values: tf.clone(x), signed: true, extras: { leftover: tf.zeros([2]) } };
  },
});

describe('smoothgrad', () => {
  let vgg: LayersModel;
  let x: tf.Tensor4D;
  beforeAll(async () => {
    await selectBackend('wasm');
    vgg = tinyVgg({ seed: 3 });
    x = inputFor(vgg, 3, 11);
  });
  afterAll(() => {
    x.dispose();
    vgg.dispose();
  });
  const targets = [0, 2, 3];

  it('noise 0 gives the base map: gradient, guided backprop, integrated gradients (signed, same shape)', async () => {
    for (const base of [gradient, guidedBackprop]) {
      const plain = await run(base, { model: vgg, input: x, target: targets });
      const smooth = await run(smoothgrad, { model: vgg, input: x, target: targets, options: { base: base.id, noise: 0, samples: 3, batchSize: 4 } });
      expect(smooth.shape).toEqual([3, 16, 16, 1]);
      expect(smooth.signed).toBe(true);
      expectClose(smooth.values, plain.values, { rtol: 1e-6, atol: 0, what: `smoothgrad(${base.id}, noise 0)` });
    }
    const ig = await run(integratedGradients, { model: vgg, input: x, target: targets });
    const smoothIg = await run(smoothgrad, { model: vgg, input: x, target: targets, options: { base: 'integrated-gradients', noise: 0, samples: 2 } });
    expectClose(smoothIg.values, ig.values, { rtol: 1e-5, what: 'smoothgrad(integrated-gradients, noise 0)' });
  });

  it('noise 0: vargrad is 0 and squaregrad is the squared gradient', async () => {
    const g = await run(gradient, { model: vgg, input: x, target: targets });
    const v = await run(smoothgrad, { model: vgg, input: x, target: targets, options: { mode: 'vargrad', noise: 0, samples: 4 } });
    const q = await run(smoothgrad, { model: vgg, input: x, target: targets, options: { mode: 'squaregrad', noise: 0, samples: 4 } });
    expect(Math.max(...v.values)).toBeLessThan(1e-12);
    expectClose(q.values, g.values.map((a) => a * a), { rtol: 1e-6, atol: 0, what: 'squaregrad at noise 0' });
  });

  it('on a linear model smoothgrad equals the gradient for any noise', async () => {
    const model = linearModel();
    const input = randomInput([2, 4, 4, 1], 5);
    const g = await run(gradient, { model, input, target: [1, 2] });
    for (const noise of [0.1, 0.5, 3]) {
      const s = await run(smoothgrad, { model, input, target: [1, 2], options: { noise, samples: 5, batchSize: 3 } });
      expectClose(s.values, g.values, { rtol: 1e-6, what: `linear model, noise ${noise}` });
    }
    input.dispose();
    model.dispose();
  });

  it('vargrad and squaregrad are non-negative and squaregrad = smoothgrad^2 + vargrad', async () => {
    const options = { noise: 0.2, samples: 6, batchSize: 4, seed: 3 };
    const s = await run(smoothgrad, { model: vgg, input: x, target: targets, options });
    const q = await run(smoothgrad, { model: vgg, input: x, target: targets, options: { ...options, mode: 'squaregrad' } });
    const v = await run(smoothgrad, { model: vgg, input: x, target: targets, options: { ...options, mode: 'vargrad' } });
    expect([s.signed, q.signed, v.signed]).toEqual([true, false, false]);
    expect(Math.min(...q.values)).toBeGreaterThanOrEqual(0);
    expect(Math.min(...v.values)).toBeGreaterThanOrEqual(0);
    expect(Math.max(...v.values)).toBeGreaterThan(0);
    expectClose(q.values, s.values.map((m, i) => m * m + (v.values[i] as number)), { rtol: 1e-5, what: 'squaregrad vs smoothgrad^2 + vargrad' });
  });

  it('is deterministic under a seed, independent of batchSize, and takes the call seed unless the option is set', async () => {
    const req = { model: vgg, input: x, target: targets };
    const options = { noise: 0.2, samples: 5 };
    const a = await run(smoothgrad, { ...req, options: { ...options, seed: 5 } });
    const again = await run(smoothgrad, { ...req, options: { ...options, seed: 5 } });
    expect(again.values).toEqual(a.values);
    for (const batchSize of [1, 4, 7, 15, 100]) {
      const b = await run(smoothgrad, { ...req, options: { ...options, seed: 5, batchSize } });
      expectClose(b.values, a.values, { rtol: 1e-5, what: `batchSize ${batchSize}` });
    }
    const viaCall = await run(smoothgrad, { ...req, seed: 5, options });
    expect(viaCall.values).toEqual(a.values);
    const overridden = await run(smoothgrad, { ...req, seed: 9, options: { ...options, seed: 5 } });
    expect(overridden.values).toEqual(a.values);
    const other = await run(smoothgrad, { ...req, seed: 6, options });
    expect(maxAbsDiff(other.values, a.values)).toBeGreaterThan(1e-4);
  });

  it('works with a target function (no classes)', async () => {
    const target = (out: tf.Tensor): tf.Tensor1D => tf.sum(tf.slice(out, [0, 1], [-1, 2]), 1);
    const g = await run(gradient, { model: vgg, input: x, target });
    const s = await run(smoothgrad, { model: vgg, input: x, target, options: { noise: 0, samples: 2, batchSize: 3 } });
    expectClose(s.values, g.values, { rtol: 1e-6, what: 'target function' });
  });

  it('noise is N(0, (noise x range)^2) per image, batched image-major with rows mapped to their image and target', async () => {
    const reg = createRegistry().register(smoothgrad, probe);
    const model = linearModel();
    const x0 = randomInput([1, 4, 4, 1], 2);
    const input = tf.concat([x0, tf.mul(x0, 3)]) as tf.Tensor4D;
    const px = await x0.data();
    const range = Math.max(...px) - Math.min(...px);
    calls.length = 0;
    const before = countTensors();
    const samples = 1000;
    const v = await run(smoothgrad, { model, input, target: [2, 1], options: { base: 'probe', mode: 'vargrad', noise: 0.1, samples, batchSize: 7 } }, reg);
    expect(countTensors()).toBe(before); // the probe's leftover extras tensor was released too
    expect(v.extras['sigma']).toEqual([expect.closeTo(0.1 * range, 6), expect.closeTo(0.3 * range, 6)]);
    // Mean per-pixel variance of 1000 copies: within 5% of sigma^2 (its sampling error is about 1%).
    const meanVar = (img: number) => v.values.subarray(img * 16, (img + 1) * 16).reduce((s, a) => s + a, 0) / 16;
    expect(meanVar(0) / (0.1 * range) ** 2).toBeCloseTo(1, 1);
    // Copy k of each image uses the same standard-normal pattern, scaled by the image's sigma.
    expect(meanVar(1) / meanVar(0)).toBeCloseTo(9, 3);
    // Batching: at most 7 copies per call, image-major; the base's batchSize is ours within its range.
    expect(calls.reduce((s, c) => s + c.rows, 0)).toBe(2 * samples);
    expect(calls.every((c) => c.rows <= 7 && c.batchSize === 5)).toBe(true);
    const expectedClasses = [...new Array<number>(samples).fill(2), ...new Array<number>(samples).fill(1)];
    expect(calls.flatMap((c) => c.classes ?? [])).toEqual(expectedClasses);
    expect(calls.flatMap((c) => c.scoredClasses)).toEqual(expectedClasses);
    // The mean of the noisy copies is the image, up to the sampling error.
    const m = await run(smoothgrad, { model, input, target: [2, 1], options: { base: 'probe', noise: 0.1, samples } }, reg);
    const pixels = await input.data();
    expect(maxAbsDiff(m.values, pixels)).toBeLessThan((5 * 0.3 * range) / Math.sqrt(samples));
    tf.dispose([x0, input]);
    model.dispose();
  });

  it('rejects a base that is missing, not a gradient explainer, or smoothgrad itself, naming the allowed ones', async () => {
    const fakeCam = defineExplainer({
      id: 'fake-cam',
      name: 'Fake CAM',
      family: 'test',
      kind: 'cam',
      description: 'Not a gradient explainer.',
      requires: { gradients: true },
      options: {},
      explain: () => Promise.reject(new Error('not called')),
    });
    const small = createRegistry().register(gradient, smoothgrad, fakeCam);
    const model = linearModel();
    const input = randomInput([1, 4, 4, 1], 1);
    const attempt = (base: string, reg: Registry) =>
      expectNoLeakedTensors(() => explain(smoothgrad, { model, input, target: 0, options: { base }, registry: reg }), { allowThrow: true });
    const missing = await attempt('guided-backprop', small);
    expect(isCnnXaiError(missing, 'UNKNOWN_EXPLAINER')).toBe(true);
    expect((missing as Error).message).toMatch(/"guided-backprop".*Allowed \(gradient explainers in this registry\): gradient\.$/);
    const wrongKind = await attempt('fake-cam', small);
    expect(isCnnXaiError(wrongKind, 'BAD_OPTION_VALUE')).toBe(true);
    expect((wrongKind as Error).message).toMatch(/a cam explainer.*Allowed .*: gradient\.$/);
    const itself = await attempt('smoothgrad', registry);
    expect(isCnnXaiError(itself, 'BAD_OPTION_VALUE')).toBe(true);
    expect((itself as Error).message).toContain('gradient, gradient-x-input, integrated-gradients, guided-backprop, deconvnet, gradient-shap.');
    const none = await attempt('gradient', createRegistry().register(smoothgrad));
    expect(isCnnXaiError(none, 'UNKNOWN_EXPLAINER')).toBe(true);
    expect((none as Error).message).toContain('holds no gradient explainer');
    input.dispose();
    model.dispose();
  });

  it('an abort between batches rejects with ABORTED and leaks nothing', async () => {
    const controller = new AbortController();
    let reports = 0;
    const error = await expectNoLeakedTensors(
      () =>
        explain(smoothgrad, {
          model: vgg,
          input: x,
          target: targets,
          options: { samples: 4, batchSize: 2 },
          registry,
          signal: controller.signal,
          onProgress: () => {
            if (++reports === 2) controller.abort(new Error('enough'));
          },
        }),
      { allowThrow: true },
    );
    expect(isCnnXaiError(error, 'ABORTED')).toBe(true);
    expect(reports).toBeLessThan(6);
  });
});

import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-core/dist/public/chained_ops/register_all_chained_ops';
import type { LayersModel } from '@tensorflow/tfjs-layers';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { defineExplainer, opt, selectBackend, type AnyExplainer, type AttributionResult, type ExplainContext } from '@cnn-xai/core';
import {
  asBlackBox,
  checkAbort,
  checkBatchEqualsPerImage,
  checkDeterminism,
  checkNoLeaks,
  checkNoLeaksOnError,
  checkOptionDefaults,
  checkOptionValidation,
  checkOutput,
  checkProgress,
  checkRefusesBlackBox,
  describeExplainer,
  requestedTargets,
  type CheckSetup,
} from './conformance.js';
import { countTensors, expectNoLeakedTensors, LeakedTensorsError } from './leaks.js';
import { inputFor, tinyVgg } from './models.js';

const options = {
  scale: opt.number({ default: 1, min: 0, max: 10, description: 'Multiplies the gradient.' }),
  mode: opt.choice({ default: 'raw', choices: ['raw', 'abs'], description: 'Keep the sign or take |gradient|.' }),
  steps: opt.integer({ default: 2, min: 1, max: 64, description: 'Progress reports.' }),
  layer: opt.layer({ default: undefined, description: 'Checked to exist, otherwise unused.' }),
};

/** The honest explainer: the input gradient of the target score (saliency without abs). */
async function gradientOf(input: tf.Tensor4D, ctx: ExplainContext, o: { scale: number; mode: string; steps: number; layer: string | string[] | undefined }): Promise<AttributionResult> {
  if (typeof o.layer === 'string') ctx.tap.layer(o.layer);
  for (let i = 1; i <= o.steps; i++) {
    ctx.throwIfAborted();
    ctx.progress(i / o.steps);
  }
  const { gradient, output, scores } = ctx.tap.gradient(input, (out) => ctx.target.score(out));
  output.dispose();
  scores.dispose();
  const values = tf.tidy(() => (o.mode === 'abs' ? tf.abs(gradient) : gradient).mul(o.scale));
  gradient.dispose();
  return { values, signed: o.mode !== 'abs', extras: {} };
}

const honest = defineExplainer({
  id: 'test-gradient',
  name: 'Test gradient',
  family: 'test',
  kind: 'gradient',
  description: 'Input gradient of the target score.',
  requires: { gradients: true },
  options,
  explain: gradientOf,
});

/** A variant of the honest explainer with a different explain body. */
function variant(id: string, body: (input: tf.Tensor4D, ctx: ExplainContext, o: Parameters<typeof gradientOf>[2]) => Promise<AttributionResult>): AnyExplainer {
  return defineExplainer({ ...honest, id, options, explain: body });
}

// The full suite on the honest explainer, on both backends: it must pass.
describeExplainer(honest, { explainOptions: { steps: 3 } });
// The suite on a model of one's own and the softmax model.
describeExplainer(honest, {
  models: [{ name: 'vgg-3ch', create: () => tinyVgg({ inputShape: [8, 8, 3], classes: 3, seed: 11 }) }, 'tinyMobilenet'],
  backends: ['wasm'],
});

/** A scores-only explainer: each image's target score times its channel sum (no gradients). */
const scoresOnly = defineExplainer({
  id: 'test-scores',
  name: 'Test scores',
  family: 'test',
  kind: 'perturbation',
  description: 'Target score times the channel sum of the input.',
  requires: { gradients: false },
  options: { batchSize: opt.integer({ default: 2, min: 1, max: 64, description: 'Images per pass.' }) },
  async explain(input, ctx, o) {
    const n = input.shape[0];
    const parts: tf.Tensor[] = [];
    for (let s = 0; s < n; s += o.batchSize) {
      ctx.throwIfAborted();
      const e = Math.min(n, s + o.batchSize);
      const part = tf.slice(input, [s, 0, 0, 0], [e - s, -1, -1, -1]);
      const out = await ctx.model.predict(part);
      const rows = Array.from({ length: e - s }, (_, i) => s + i);
      parts.push(tf.tidy(() => tf.mul(tf.reshape(ctx.target.score(out, rows), [e - s, 1, 1]), tf.sum(part, 3))));
      tf.dispose([part, out]);
      ctx.progress(e / n);
    }
    const values = tf.concat(parts, 0);
    tf.dispose(parts);
    return { values, signed: true, extras: {} };
  },
});

// Black-box mode: a scores-only explainer on the models and on the models seen as black boxes;
// an explainer that needs gradients is checked to refuse the black box.
describeExplainer(scoresOnly, { blackBox: true, models: ['tinyVgg', 'tinyResnet'], backends: ['wasm', 'cpu'] });
describeExplainer(honest, { blackBox: 'only', models: ['tinyVgg'], backends: ['wasm'] });

describe('the conformance checks catch broken explainers', () => {
  let model: LayersModel;
  let input: tf.Tensor4D;
  const stash: tf.Tensor[] = [];
  const setup = (explainer: AnyExplainer): CheckSetup => ({ explainer, model, input, options: {}, seed: 3 });

  beforeAll(async () => {
    await selectBackend('wasm');
    model = tinyVgg({ seed: 21 });
    input = inputFor(model, 2, 4);
  });
  afterAll(() => {
    stash.forEach((t) => t.dispose());
    input.dispose();
    model.dispose();
  });

  it('the honest explainer passes every check called directly', async () => {
    const s = setup(honest);
    await checkOutput(s);
    await checkDeterminism(s);
    await checkBatchEqualsPerImage(s);
    await checkAbort(s);
    await checkProgress(s);
    await checkNoLeaks(s);
    await checkNoLeaksOnError(s);
    checkOptionDefaults(honest);
    checkOptionValidation(honest);
  });

  it('a leaky explainer (keeps a tensor per call) fails the leak check', async () => {
    const leaky = variant('test-leaky', async (x, ctx, o) => {
      stash.push(tf.keep(tf.ones([2, 2])));
      return gradientOf(x, ctx, o);
    });
    await expect(checkNoLeaks(setup(leaky))).rejects.toBeInstanceOf(LeakedTensorsError);
    await checkOutput(setup(leaky)); // it is otherwise fine
  });

  it('an explainer that leaks when it throws fails the error-path leak check', async () => {
    const leakyOnError = variant('test-leaky-on-error', async (x, ctx, o) => {
      const kept = tf.keep(tf.zeros([3]));
      stash.push(kept);
      try {
        if (typeof o.layer === 'string') ctx.tap.layer(o.layer);
      } catch (e) {
        throw e; // "forgets" kept
      }
      kept.dispose();
      return gradientOf(x, ctx, o);
    });
    await checkNoLeaks(setup(leakyOnError));
    await expect(checkNoLeaksOnError(setup(leakyOnError))).rejects.toThrow(/leaked/);
  });

  it('an explainer that ignores the seed fails the determinism check', async () => {
    const unseeded = variant('test-unseeded', async (x, ctx, o) => {
      const r = await gradientOf(x, ctx, o);
      const noisy = tf.tidy(() => r.values.add(tf.randomNormal(r.values.shape, 0, 0.1)));
      r.values.dispose();
      return { ...r, values: noisy };
    });
    await expect(checkDeterminism(setup(unseeded))).rejects.toThrow(/differ/);
  });

  it('an explainer that normalises over the whole batch fails batch-equals-per-image', async () => {
    const batchNorm = variant('test-batch-normalised', async (x, ctx, o) => {
      const r = await gradientOf(x, ctx, o);
      const scaled = tf.tidy(() => r.values.div(tf.max(tf.abs(r.values)).add(1e-12)));
      r.values.dispose();
      return { ...r, values: scaled };
    });
    await checkDeterminism(setup(batchNorm));
    await expect(checkBatchEqualsPerImage(setup(batchNorm))).rejects.toThrow(/differs from alone/);
  });

  it('output check: unsigned maps with negative values, wrong sizes, NaN and wrong targets fail', async () => {
    const liar = variant('test-sign-liar', async (x, ctx, o) => ({ ...(await gradientOf(x, ctx, o)), signed: false }));
    await expect(checkOutput(setup(liar))).rejects.toThrow(/negative/);

    const small = variant('test-small', async (x, ctx, o) => {
      const r = await gradientOf(x, ctx, o);
      const pooled = tf.tidy(() => tf.avgPool(r.values as tf.Tensor4D, 2, 2, 'valid'));
      r.values.dispose();
      return { ...r, values: pooled };
    });
    await expect(checkOutput(setup(small))).rejects.toThrow(/does not match the input/);

    const nan = variant('test-nan', async (x, ctx, o) => {
      const r = await gradientOf(x, ctx, o);
      const v = tf.tidy(() => r.values.div(tf.zerosLike(r.values)));
      r.values.dispose();
      return { ...r, values: v };
    });
    await expect(checkOutput(setup(nan))).rejects.toThrow(/not finite/);

    const wrongTarget = variant('test-wrong-target', async (x, ctx, o) => ({ ...(await gradientOf(x, ctx, o)), target: [0, 0] }));
    await expect(checkOutput(setup(wrongTarget))).rejects.toThrow(/target/);

    const int = variant('test-int', async (x, ctx, o) => {
      const r = await gradientOf(x, ctx, o);
      const v = r.values.toInt();
      r.values.dispose();
      return { ...r, values: v };
    });
    await expect(checkOutput(setup(int))).rejects.toThrow(/dtype/);
  });

  it('progress that goes down fails the progress check', async () => {
    const wobbly = variant('test-wobbly', async (x, ctx, o) => {
      ctx.progress(0.8);
      ctx.progress(0.3);
      return gradientOf(x, ctx, { ...o, steps: 0 });
    });
    await expect(checkProgress(setup(wobbly))).rejects.toThrow(/went down/);
  });

  it('schemas with an invalid default or a missing description fail the option checks', () => {
    // Not made with defineExplainer, which would refuse the out-of-range default.
    const badDefault = { ...honest, id: 'test-bad-default', options: { ...options, scale: { ...options.scale, default: 20 } } } as AnyExplainer;
    expect(() => checkOptionDefaults(badDefault)).toThrow(/fails its own spec/);
    const undocumented = { ...honest, id: 'test-undocumented', options: { ...options, mode: { ...options.mode, description: '' } } } as AnyExplainer;
    expect(() => checkOptionDefaults(undocumented)).toThrow(/no description/);
    checkOptionValidation(honest);
  });

  it('expectNoLeakedTensors reports leaks, passes values through and can swallow errors', async () => {
    await expect(expectNoLeakedTensors(() => stash.push(tf.keep(tf.scalar(1))))).rejects.toThrow(/1 tensor\(s\) leaked/);
    const before = countTensors();
    expect(await expectNoLeakedTensors(() => 42)).toBe(42);
    const err = await expectNoLeakedTensors(() => {
      throw new Error('boom');
    }, { allowThrow: true });
    expect((err as Error).message).toBe('boom');
    await expect(expectNoLeakedTensors(() => Promise.reject(new Error('again')))).rejects.toThrow('again');
    expect(countTensors()).toBe(before);
  });

  it('black-box mode: predict treated as synchronous fails; a black box must be refused by white-box explainers', async () => {
    const { box, tap } = asBlackBox(model);
    try {
      expect(box.numClasses).toBe(4);
      expect(box.batchSize).toBe(5);
      // ctx.model.predict returns a promise on a model too (its batch may be split between
      // worker threads) and on a black box: treating it as a tensor fails on both.
      const syncPredict = defineExplainer({
        ...scoresOnly,
        id: 'test-sync-predict',
        async explain(x, ctx) {
          const out = ctx.model.predict(x) as tf.Tensor;
          const values = tf.tidy(() => tf.mul(tf.reshape(ctx.target.score(out), [x.shape[0], 1, 1]), tf.sum(x, 3)));
          (out as tf.Tensor).dispose?.();
          return { values, signed: true, extras: {} };
        },
      });
      await expect(checkOutput(setup(syncPredict))).rejects.toThrow();
      await expect(checkOutput({ ...setup(syncPredict), model: box })).rejects.toThrow();
      // The honest scores-only explainer passes on the black box, called directly.
      const s = { ...setup(scoresOnly), model: box };
      await checkOutput(s);
      await checkDeterminism(s);
      await checkBatchEqualsPerImage(s);
      await checkNoLeaks(s);
      await checkNoLeaksOnError(s);
      // The refusal check passes for a gradient explainer and fails for one that runs.
      await checkRefusesBlackBox({ ...setup(honest), model: box });
      await expect(checkRefusesBlackBox(s)).rejects.toThrow(/UNSUPPORTED_MODEL/);
    } finally {
      tap.dispose();
    }
  });

  it('requestedTargets gives distinct classes in range', () => {
    expect(requestedTargets(2, 4)).toEqual([3, 2]);
    expect(requestedTargets(3, 2)).toEqual([1, 0, 1]);
  });
});

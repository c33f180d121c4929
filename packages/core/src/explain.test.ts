import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-core/dist/public/chained_ops/register_all_chained_ops';
import type { LayersModel } from '@tensorflow/tfjs-layers';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { countTensors, expectClose, inputFor, tinyResnet } from '../../testing/src/index.js';
import { selectBackend } from './backend.js';
import { defineExplainer } from './define-explainer.js';
import { CnnXaiError } from './errors.js';
import { explain } from './explain.js';
import { opt } from './options.js';
import { createRegistry } from './registry.js';
import { ModelTap } from './tap/tap.js';
import type { AnyExplainer, ExplainContext } from './types.js';

/** The input gradient times the input, with a few progress reports and a seeded noise term. */
const tiny = defineExplainer({
  id: 'tiny-gxi',
  name: 'Gradient x input',
  family: 'test',
  kind: 'gradient',
  description: 'test explainer',
  requires: { gradients: true },
  options: {
    noise: opt.number({ default: 0, min: 0, max: 1, description: 'Seeded noise added to the map.' }),
    steps: opt.integer({ default: 4, min: 1, max: 100, description: 'Progress reports.' }),
    seed: opt.integer({ default: undefined as unknown as number, description: 'Seed.' }),
  },
  async explain(input, ctx, o) {
    for (let i = 0; i < o.steps; i++) {
      ctx.throwIfAborted();
      ctx.progress(i / o.steps);
      await new Promise((r) => setTimeout(r, 0));
    }
    const { gradient, output, scores } = ctx.tap.gradient(input, (out) => ctx.target.score(out));
    const noise = tf.tensor(ctx.random.normalArray(input.size, 0, o.noise), input.shape);
    const values = tf.add(tf.mul(gradient, input), noise);
    tf.mul(values, 2); // garbage the scope must collect
    return { values, signed: true, extras: { scores, output, count: o.steps, rawSeed: ctx.random.seed } };
  },
});

function failing(when: 'start' | 'late'): AnyExplainer {
  return defineExplainer({
    ...tiny,
    id: `fails-${when}`,
    options: {},
    async explain(input, ctx: ExplainContext) {
      if (when === 'start') throw new CnnXaiError('UNKNOWN_LAYER', 'no layer');
      tf.keep(tf.zeros([1])).dispose();
      ctx.tap.gradient(input, (out) => ctx.target.score(out));
      tf.ones([5, 5]);
      await new Promise((r) => setTimeout(r, 0));
      throw new Error('late failure');
    },
  });
}

describe('explain', () => {
  let model: LayersModel;
  let x: tf.Tensor4D;
  beforeAll(async () => {
    await selectBackend('wasm');
    model = tinyResnet();
    x = inputFor(model, 2, 1);
  });
  afterAll(() => {
    x.dispose();
    model.dispose();
  });

  it('returns the map, the explainer id, the target and extras; dispose() releases everything', async () => {
    const before = countTensors();
    const r = await explain(tiny, { model, input: x, target: [1, 3] });
    expect(r.explainer).toBe('tiny-gxi');
    expect(r.target).toEqual([1, 3]);
    expect(r.values.shape).toEqual(x.shape);
    expect(r.extras['count']).toBe(4);
    // values + the extras' tensors survive the call; the garbage and the tap's tensors do not.
    expect(countTensors()).toBe(before + 3);
    const tap = new ModelTap(model);
    const g = tap.gradient(x, (out) => tf.sum(tf.mul(out, tf.oneHot([1, 3], 5)), 1) as tf.Tensor1D);
    expectClose(r.values, tf.mul(g.gradient, x), { rtol: 1e-6 });
    tap.dispose();
    tf.dispose([g.gradient, g.output, g.scores]);
    r.dispose();
    r.dispose(); // twice is fine
    expect(countTensors()).toBe(before + 1); // the tf.mul above
  });

  it("defaults to 'top', accepts a single image [H, W, C] and a tap that it leaves alone", async () => {
    const tap = new ModelTap(model);
    const top = Array.from(tf.tidy(() => tf.argMax(tap.predict(x), 1).dataSync()));
    const r = await explain(tiny, { model: tap, input: x });
    expect(r.target).toEqual(top);
    r.dispose();
    const one = x.slice(0, 1).squeeze([0]);
    const r1 = await explain(tiny, { model: tap, input: one, target: 2 });
    expect(r1.values.shape).toEqual([1, ...one.shape]);
    expect(r1.target).toEqual([2]);
    r1.dispose();
    // The caller's tap is still usable.
    expect(tf.tidy(() => tap.predict(x).shape)).toEqual([2, 5]);
    tap.dispose();
    one.dispose();
  });

  it('finds explainers by id in the given registry', async () => {
    const registry = createRegistry().register(tiny);
    const r = await explain('tiny-gxi', { model, input: x, registry, target: 0 });
    expect(r.explainer).toBe('tiny-gxi');
    r.dispose();
    await expect(explain('nope', { model, input: x, registry })).rejects.toMatchObject({ code: 'UNKNOWN_EXPLAINER' });
  });

  it("seeds the random stream: the request's seed, overridden by a `seed` option", async () => {
    const run = async (seed: number | undefined, options: Record<string, unknown> = {}): Promise<number[]> => {
      const r = await explain(tiny, { model, input: x, target: 0, seed, options: { noise: 0.5, ...options } });
      const v = Array.from(r.values.dataSync());
      expect(r.extras['rawSeed']).toBe(options['seed'] ?? seed ?? 0);
      r.dispose();
      return v;
    };
    const a = await run(3);
    expect(await run(3)).toEqual(a);
    expect(await run(4)).not.toEqual(a);
    expect(await run(4, { seed: 3 })).toEqual(a);
    expect(await run(undefined)).toEqual(await run(0));
  });

  it('leaks nothing when the options, the input, the target or the explainer fail', async () => {
    const cases: Array<[string, () => Promise<unknown>, string]> = [
      ['unknown option', () => explain(tiny, { model, input: x, options: { nope: 1 } }), 'UNKNOWN_OPTION'],
      ['bad value', () => explain(tiny, { model, input: x, options: { steps: 0 } }), 'BAD_OPTION_VALUE'],
      ['bad target', () => explain(tiny, { model, input: x, target: 9 }), 'BAD_TARGET'],
      ['bad input', () => explain(tiny, { model, input: tf.zeros([2, 5, 5, 3]) }), 'BAD_INPUT_SHAPE'],
      ['explainer fails at once', () => explain(failing('start'), { model, input: x }), 'UNKNOWN_LAYER'],
    ];
    for (const [what, run, code] of cases) {
      const before = countTensors();
      await expect(run(), what).rejects.toMatchObject({ code });
      // 'bad input' made its own input tensor outside explain.
      expect(countTensors(), what).toBe(before + (what === 'bad input' ? 1 : 0));
    }
    const before = countTensors();
    await expect(explain(failing('late'), { model, input: x })).rejects.toThrow('late failure');
    expect(countTensors()).toBe(before);
  });

  it('an aborted signal rejects with ABORTED, before or during the run, and leaks nothing', async () => {
    const before = countTensors();
    const done = new AbortController();
    done.abort('user');
    const e = await explain(tiny, { model, input: x, signal: done.signal }).catch((err: unknown) => err);
    expect(e).toBeInstanceOf(CnnXaiError);
    expect((e as CnnXaiError).code).toBe('ABORTED');
    expect((e as CnnXaiError).message).toContain('user');
    const later = new AbortController();
    const seen: number[] = [];
    const run = explain(tiny, {
      model,
      input: x,
      signal: later.signal,
      options: { steps: 10 },
      onProgress: (f) => {
        seen.push(f);
        if (f >= 0.3) later.abort();
      },
    });
    await expect(run).rejects.toMatchObject({ code: 'ABORTED' });
    expect(seen).toEqual([0, 0.1, 0.2, 0.3]);
    expect(countTensors()).toBe(before);
  });

  it('progress is clamped to [0, 1] and ends with 1', async () => {
    const wild = defineExplainer({
      ...tiny,
      id: 'wild-progress',
      async explain(input, ctx, o) {
        ctx.progress(-0.5);
        ctx.progress(0.5);
        ctx.progress(7);
        return tiny.explain(input, ctx, { ...o, steps: 1 });
      },
    });
    const seen: number[] = [];
    const r = await explain(wild, { model, input: x, onProgress: (f) => seen.push(f) });
    r.dispose();
    expect(seen).toEqual([0, 0.5, 1, 0, 1]);
  });
});

describe('explain() scheduling and seeds', () => {
  it('concurrent calls on one tap run one after another and all succeed without leaks', async () => {
    await selectBackend('wasm');
    const model = tinyResnet();
    const tap = ModelTap.from(model);
    const x = inputFor(model, 3, 5);
    const before = countTensors();
    const slow = defineExplainer({
      id: 'slow-gradient',
      name: 'slow',
      family: 'test',
      kind: 'gradient',
      description: 'input gradient, one image per awaited step',
      requires: { gradients: true },
      options: {},
      async explain(input, ctx) {
        const parts: tf.Tensor[] = [];
        for (let i = 0; i < input.shape[0]; i++) {
          const xi = tf.slice(input, [i, 0, 0, 0], [1, -1, -1, -1]);
          parts.push(ctx.tap.gradient(xi, (out) => ctx.target.score(out, [i])).gradient);
          await new Promise((r) => setTimeout(r, 1));
        }
        return { values: tf.concat(parts, 0), signed: true, extras: {} };
      },
    });
    const results = await Promise.all([0, 1, 2].map(() => explain(slow, { model: tap, input: x, target: 0 })));
    const first = results[0]?.values.dataSync() as Float32Array;
    for (const r of results) expect(Array.from(r.values.dataSync())).toEqual(Array.from(first));
    results.forEach((r) => r.dispose());
    expect(countTensors()).toBe(before);
    tap.dispose();
    x.dispose();
  });

  it('the call seed reaches an explainer whose seed option was left at its default; an explicit option wins', async () => {
    await selectBackend('wasm');
    const model = tinyResnet();
    const x = inputFor(model, 1, 2);
    const seen: number[] = [];
    const probe = defineExplainer({
      id: 'seed-probe',
      name: 'probe',
      family: 'test',
      kind: 'perturbation',
      description: 'records its random stream seed',
      requires: { gradients: false },
      options: { seed: opt.integer({ default: 0, min: 0, description: 'seed' }) },
      async explain(input, ctx) {
        seen.push(ctx.random.seed);
        return { values: tf.zeros([input.shape[0], input.shape[1], input.shape[2]]), signed: false, extras: {} };
      },
    });
    for (const req of [{}, { seed: 11 }, { seed: 11, options: { seed: 4 } }]) {
      const r = await explain(probe, { model, input: x, ...req });
      r.dispose();
    }
    expect(seen).toEqual([0, 11, 4]);
    x.dispose();
  });
});

describe('explain() and tensors in extras', () => {
  it('keeps tensors nested in record or array extras alive until dispose()', async () => {
    await selectBackend('wasm');
    const model = tinyResnet();
    const x = inputFor(model, 1, 3);
    const before = countTensors();
    const nested = defineExplainer({
      id: 'nested-extras',
      name: 'nested',
      family: 'test',
      kind: 'perturbation',
      description: 'returns tensors inside records and arrays of its extras',
      requires: { gradients: false },
      options: {},
      async explain(input) {
        return {
          values: tf.zeros([input.shape[0], input.shape[1], input.shape[2]]),
          signed: false,
          extras: { maps: { a: tf.ones([2]), list: [tf.fill([3], 2)] } as Record<string, unknown> },
        };
      },
    });
    const r = await explain(nested, { model, input: x });
    const maps = r.extras['maps'] as { a: tf.Tensor; list: tf.Tensor[] };
    expect(Array.from(maps.a.dataSync())).toEqual([1, 1]);
    expect(Array.from((maps.list[0] as tf.Tensor).dataSync())).toEqual([2, 2, 2]);
    r.dispose();
    expect(countTensors()).toBe(before);
    x.dispose();
  });
});

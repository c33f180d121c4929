import * as tf from '@tensorflow/tfjs-core';
import type { LayersModel } from '@tensorflow/tfjs-layers';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { classScores, explain, ModelTap, resizeBilinear, selectBackend, type Attribution } from '@cnn-xai/core';
import { countTensors, inputFor, tinyNoConv, tinyResnet, tinyVgg } from '@cnn-xai/testing';
import { adaSise, fuseBlocks, otsuThreshold, sise } from './index.js';

type Counts = Record<string, number[]>;
type Channels = Record<string, number[][]>;

async function run(ex: typeof sise | typeof adaSise, tap: ModelTap, x: tf.Tensor4D, target: number[], options: Record<string, unknown> = {}) {
  return explain(ex, { model: tap, input: x, target, options });
}

/** Average gradient alpha [N, K] of the score at a layer, independently of the pipeline. */
function alphas(tap: ModelTap, x: tf.Tensor4D, layer: string, score: (out: tf.Tensor) => tf.Tensor1D): number[][] {
  const g = tap.gradient(x, score, { layer });
  const a = tf.tidy(() => tf.mean(g.gradient, [1, 2]).arraySync() as number[][]);
  tf.dispose([g.gradient, g.activation ?? [], g.output, g.scores]);
  return a;
}

describe.each([
  ['tinyVgg', () => tinyVgg(), [1, 3, 0]],
  ['tinyResnet', () => tinyResnet(), [4, 0, 2]],
] as Array<[string, () => LayersModel, number[]]>)('SISE and Ada-SISE on %s', (_, create, target) => {
  let model: LayersModel;
  let tap: ModelTap;
  let x: tf.Tensor4D;
  let layers: string[];
  beforeAll(async () => {
    await selectBackend('wasm');
    model = create();
    tap = ModelTap.from(model);
    x = inputFor(model, 3, 11);
    const r = await run(sise, tap, x, target);
    layers = r.layer as string[];
    r.dispose();
  });
  afterAll(() => {
    x.dispose();
    tap.dispose();
    model.dispose();
  });

  it('is deterministic (no random masks)', async () => {
    const a = await run(sise, tap, x, target, { batchSize: 5 });
    const b = await run(sise, tap, x, target, { batchSize: 5 });
    expect(Array.from(await a.values.data())).toEqual(Array.from(await b.values.data()));
    expect(Math.max(...(await a.values.data()))).toBeGreaterThan(0);
    a.dispose();
    b.dispose();
  });

  it('masks per layer = #{k : alpha_k > mu max alpha} (logit and softmax scores), non-increasing and nested in mu; forward passes = 1 + masks', async () => {
    const prob = (out: tf.Tensor) => classScores(tf.softmax(out as tf.Tensor2D), target);
    const logit = (out: tf.Tensor) => classScores(out, target);
    for (const [scores, score] of [['logit', logit], ['softmax', prob]] as const) {
      let previous: Channels | null = null;
      for (const mu of [0, 0.3, 0.6]) {
        const r = await run(sise, tap, x, target, { mu, scores });
        const masks = r.extras['masks'] as Counts;
        const channels = r.extras['channels'] as Channels;
        expect(Object.keys(masks)).toEqual(layers);
        for (const layer of layers) {
          const a = alphas(tap, x, layer, score);
          a.forEach((row, i) => {
            const beta = Math.max(...row);
            const want = row.flatMap((v, k) => (beta > 0 && v > mu * beta ? [k] : []));
            expect(channels[layer]?.[i], `${scores} mu=${mu} ${layer} image ${i}`).toEqual(want);
            expect(masks[layer]?.[i]).toBe(want.length);
            if (previous) {
              const before = previous[layer]?.[i] as number[];
              expect(want.length).toBeLessThanOrEqual(before.length);
              expect(want.every((k) => before.includes(k))).toBe(true);
            }
          });
        }
        const passes = r.extras['forwardPasses'] as number[];
        passes.forEach((p, i) => expect(p).toBe(1 + layers.reduce((s, l) => s + (masks[l]?.[i] as number), 0)));
        expect(r.extras['backwardPasses']).toBe(1);
        previous = channels;
        r.dispose();
      }
    }
  });

  it('block maps V_b lie in [0, 1] (min 0, max 1); the fused map is the cascaded fusion of them, for every fusion', async () => {
    for (const fusion of ['otsu', 'soft-otsu', 'simple'] as const) {
      const r = await run(sise, tap, x, target, { fusion, batchSize: 4 });
      const blocks = r.extras['blockMaps'] as tf.Tensor;
      const [n, nb, h, w] = blocks.shape as [number, number, number, number];
      expect([n, nb, h, w]).toEqual([3, layers.length, x.shape[1], x.shape[2]]);
      const b = await blocks.data();
      const v = await r.values.data();
      const plane = h * w;
      for (let i = 0; i < n; i++) {
        const masks = r.extras['masks'] as Counts;
        // A block without masks (no positive alpha at that layer for this image) is all zeros and left out of the fusion.
        const maps = Array.from({ length: nb }, (_, k) => {
          const m = b.slice((i * nb + k) * plane, (i * nb + k + 1) * plane) as Float32Array;
          if (masks[layers[k] as string]?.[i] === 0) {
            expect(m.every((q) => q === 0)).toBe(true);
            return null;
          }
          expect(Math.min(...m)).toBe(0);
          expect(Math.max(...m)).toBeCloseTo(1, 6);
          return m;
        });
        const { fused } = fuseBlocks(maps, plane, fusion);
        expect(Array.from(v.slice(i * plane, (i + 1) * plane))).toEqual(Array.from(fused));
        const lastIndex = maps.findLastIndex((m) => m !== null);
        const last = maps[lastIndex] as Float32Array;
        const thr = otsuThreshold(last);
        const outside = Array.from(last.keys()).filter((j) => (last[j] as number) <= thr);
        expect(outside.length).toBeGreaterThan(0);
        if (fusion === 'otsu' && maps.filter((m) => m !== null).length >= 2) {
          // Hard Binary_Otsu (the paper): exactly 0 outside the last block's Otsu foreground
          // (with one contributing block, F = V_1 and no threshold applies).
          expect(outside.every((j) => v[i * plane + j] === 0)).toBe(true);
          expect((r.extras['fusionThresholds'] as Record<string, number[]>)[layers[lastIndex] as string]?.[i]).toBe(thr);
        }
      }
      r.dispose();
    }
  });

  it('one block: V = min-max of sum_n s_n m_n / (sum m_n + 1e-6), s_n the softmax score of x * m_n (and without area normalisation)', async () => {
    const layer = layers[layers.length - 1] as string;
    for (const areaNorm of [true, false]) {
      const r = await run(sise, tap, x, target, { layer, areaNorm, batchSize: 3 });
      const channels = (r.extras['channels'] as Channels)[layer] as number[][];
      const got = await r.values.data();
      const act = tap.activations(x, [layer])[layer] as tf.Tensor4D;
      const [n, h, w] = x.shape;
      for (let i = 0; i < n; i++) {
        const want = tf.tidy(() => {
          const idx = channels[i] as number[];
          const a = tf.gather(tf.slice(act, [i, 0, 0, 0], [1, -1, -1, -1]), idx, 3);
          const up = tf.squeeze(tf.transpose(resizeBilinear(a, [h, w]), [3, 1, 2, 0]), [3]); // [K, H, W]
          const lo = tf.min(up, [1, 2], true);
          const m = tf.div(tf.sub(up, lo), tf.add(tf.sub(tf.max(up, [1, 2], true), lo), 1e-6));
          const masked = tf.mul(tf.slice(x, [i, 0, 0, 0], [1, -1, -1, -1]), tf.expandDims(m, 3));
          const s = classScores(tf.softmax(tap.predict(masked) as tf.Tensor2D), new Array<number>(idx.length).fill(target[i] as number));
          const wts = areaNorm ? tf.div(s, tf.add(tf.sum(m, [1, 2]), 1e-6)) : s;
          const v = tf.sum(tf.mul(m, tf.reshape(wts, [-1, 1, 1])), 0);
          const vlo = tf.min(v);
          return tf.div(tf.sub(v, vlo), tf.sub(tf.max(v), vlo)).dataSync();
        });
        const mine = got.slice(i * h * w, (i + 1) * h * w);
        let worst = 0;
        want.forEach((q, j) => (worst = Math.max(worst, Math.abs(q - (mine[j] as number)))));
        expect(worst, `image ${i}, areaNorm ${areaNorm}`).toBeLessThan(1e-4);
      }
      act.dispose();
      r.dispose();
    }
  });

  it("Ada-SISE's masks are a subset of SISE's (mu = 0), so it uses no more forward passes", async () => {
    const s = await run(sise, tap, x, target);
    const a = await run(adaSise, tap, x, target);
    const sc = s.extras['channels'] as Channels;
    const ac = a.extras['channels'] as Channels;
    let fewer = 0;
    for (const layer of layers) {
      (ac[layer] as number[][]).forEach((keep, i) => {
        const all = (sc[layer] as number[][])[i] as number[];
        expect(keep.every((k) => all.includes(k))).toBe(true);
        if (all.length > 0) expect(keep.length).toBeGreaterThan(0);
        if (keep.length < all.length) fewer++;
      });
    }
    expect(fewer).toBeGreaterThan(0);
    const sp = s.extras['forwardPasses'] as number[];
    (a.extras['forwardPasses'] as number[]).forEach((p, i) => expect(p).toBeLessThanOrEqual(sp[i] as number));
    const thr = a.extras['selectionThresholds'] as Record<string, number[]>;
    // The Otsu threshold on alpha / max alpha, in [0, 1); NaN where no alpha is positive (no masks).
    for (const layer of layers) {
      (thr[layer] as number[]).forEach((t, i) => {
        if (((sc[layer] as number[][])[i] as number[]).length === 0) expect(t).toBeNaN();
        else expect(t >= 0 && t < 1).toBe(true);
      });
    }
    s.dispose();
    a.dispose();
  });
});

describe('SISE edge cases and errors', () => {
  beforeAll(async () => {
    await selectBackend('wasm');
  });

  it('a score with no positive gradient anywhere gives no masks and an all-zero map', async () => {
    const model = tinyVgg();
    const tap = ModelTap.from(model);
    const x = inputFor(model, 2, 3);
    for (const ex of [sise, adaSise]) {
      const r: Attribution = await explain(ex, { model: tap, input: x, target: (out) => tf.mul(tf.sum(out, 1), 0) as tf.Tensor1D });
      expect(Array.from(await r.values.data()).every((v) => v === 0)).toBe(true);
      expect(r.extras['forwardPasses']).toEqual([1, 1]);
      expect(Object.values(r.extras['masks'] as Counts).flat().every((c) => c === 0)).toBe(true);
      r.dispose();
    }
    x.dispose();
    tap.dispose();
    model.dispose();
  });

  it('no conv layer is NO_CONV_LAYER; an unknown layer is UNKNOWN_LAYER; nothing leaks', async () => {
    const flat = tinyNoConv();
    const xf = inputFor(flat, 1, 2);
    const vgg = tinyVgg();
    const xv = inputFor(vgg, 1, 2);
    const before = countTensors();
    for (const ex of [sise, adaSise]) {
      await expect(explain(ex, { model: flat, input: xf })).rejects.toMatchObject({ code: 'NO_CONV_LAYER' });
      await expect(explain(ex, { model: vgg, input: xv, options: { layer: 'conv2,nope' } })).rejects.toMatchObject({ code: 'UNKNOWN_LAYER' });
      await expect(explain(ex, { model: vgg, input: xv, options: { layer: 'logits' } })).rejects.toMatchObject({ code: 'NO_CONV_LAYER' });
    }
    expect(countTensors()).toBe(before);
    tf.dispose([xf, xv]);
    flat.dispose();
    vgg.dispose();
  });
});

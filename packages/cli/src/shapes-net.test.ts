/**
 * shapes-net in the test matrix: every explainer the CLI discovers (every @cnn-xai/plugin-*
 * package it depends on) runs on the colour fixture (BatchNorm, residual adds, depthwise and
 * separable convs, zero padding) on 2 samples with small settings: output shape, finite values
 * and no leaked tensors. Then localisation: LRP and Grad-CAM put most of their positive mass
 * inside the object mask on most of the 24 samples.
 *
 * This lives in the CLI package because the CLI is the package that depends on every plugin and
 * on the fixtures (the arrows stay cli -> plugins -> core).
 */
import * as tf from '@tensorflow/tfjs-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRegistry, explain, ModelTap, selectBackend, type AnyExplainer, type Registry } from '@cnn-xai/core';
import { loadModel } from '@cnn-xai/core/node';
import { checkNoLeaks, checkOutput, type CheckSetup } from '@cnn-xai/testing';
import { fixtures, readShapesSamples, type ShapesSamples } from '@cnn-xai/fixtures';
import { loadPlugins } from './plugin-node.js';

const PIXELS = 64 * 64;

/** Small settings for the options an explainer has (path points, samples, masks, steps). */
function smallOptions(ex: AnyExplainer): Record<string, unknown> {
  const has = (k: string): boolean => Object.prototype.hasOwnProperty.call(ex.options ?? {}, k);
  const o: Record<string, unknown> = {};
  if (has('steps')) o['steps'] = 4;
  if (has('samples')) o['samples'] = ex.id === 'rise' ? 64 : ex.id === 'lime' || ex.id === 'kernel-shap' ? 24 : 2;
  if (has('segments')) o['segments'] = 12;
  if (ex.id === 'feature-visualization') o['steps'] = 3;
  // The output check wants 1 or the input's channel count as the last dimension.
  if (ex.id === 'activation-maps') o['topK'] = 1;
  if (has('window') && ex.id === 'occlusion') Object.assign(o, { window: 16, stride: 16 });
  return o;
}

/** Fraction of a map's positive mass (channels summed) that lies inside each image's mask. */
export function positiveMassInside(map: Float32Array, n: number, channels: number, masks: Uint8Array): number[] {
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    let inside = 0;
    let total = 0;
    for (let p = 0; p < PIXELS; p++) {
      let v = 0;
      for (let c = 0; c < channels; c++) v += map[(i * PIXELS + p) * channels + c] as number;
      if (v <= 0) continue;
      total += v;
      if (masks[i * PIXELS + p]) inside += v;
    }
    out.push(total > 0 ? inside / total : 0);
  }
  return out;
}

describe('every discovered explainer on shapes-net (wasm)', () => {
  let registry: Registry;
  let all: AnyExplainer[] = [];
  let tap: ModelTap;
  let samples: ShapesSamples;
  let pair: tf.Tensor4D;
  beforeAll(async () => {
    await selectBackend('wasm');
    registry = createRegistry();
    const loads = await loadPlugins(registry);
    expect(loads.filter((l) => l.error)).toEqual([]);
    all = registry.list();
    tap = ModelTap.from(await loadModel(fixtures.shapesNet));
    samples = readShapesSamples();
    // one circle and one star
    const pick = [samples.labels.indexOf(0), samples.labels.indexOf(3)];
    const data = new Float32Array(2 * PIXELS * 3);
    pick.forEach((k, i) => data.set(samples.images.subarray(k * PIXELS * 3, (k + 1) * PIXELS * 3), i * PIXELS * 3));
    pair = tf.tensor4d(data, [2, 64, 64, 3]);
  });
  afterAll(() => {
    pair.dispose();
    tap.model.dispose();
    tap.dispose();
  });

  it('discovers the explainers of every plugin family', () => {
    const families = new Set(all.map((e) => e.family));
    for (const f of ['gradient', 'cam', 'lrp', 'perturbation', 'sise', 'surrogate', 'visualization']) expect(families).toContain(f);
  });

  it('each explainer gives a finite map of the right shape and leaks nothing', async () => {
    const failures: string[] = [];
    for (const ex of all) {
      const setup: CheckSetup = { explainer: ex, model: tap, input: pair, options: smallOptions(ex), seed: 7, registry };
      if (ex.id === 'attention') {
        // shapes-net has no attention gate: a typed error, and nothing leaks.
        const before = tf.memory().numTensors;
        await expect(explain(ex, { model: tap, input: pair, registry })).rejects.toMatchObject({ code: 'UNSUPPORTED_MODEL' });
        expect(tf.memory().numTensors).toBe(before);
        continue;
      }
      try {
        await checkOutput(setup);
        await checkNoLeaks(setup);
      } catch (e) {
        failures.push(`${ex.id}: ${(e as Error).message.split('\n')[0]}`);
      }
    }
    expect(failures).toEqual([]);
  });

  it('LRP puts most of its positive mass inside the object mask; Grad-CAM points at the object', async () => {
    const n = samples.labels.length;
    const x = tf.tensor4d(samples.images, [n, 64, 64, 3]);
    const fractions: Record<string, number[]> = {};
    const hits: Record<string, number> = {};
    const runs: Array<[string, string, Record<string, unknown>]> = [
      ['lrp (epsilon-plus)', 'lrp', {}],
      ['lrp (epsilon-gamma-box)', 'lrp', { composite: 'epsilon-gamma-box' }],
      ['grad-cam (b3_relu2, 8x8)', 'grad-cam', {}],
      ['grad-cam (b1_relu2, 16x16)', 'grad-cam', { layer: 'b1_relu2' }],
    ];
    for (const [label, id, options] of runs) {
      const res = await explain(id, { model: tap, input: x, target: samples.labels, options, registry });
      const channels = res.values.rank === 4 ? (res.values.shape[3] as number) : 1;
      const map = (await res.values.data()) as Float32Array;
      res.dispose();
      fractions[label] = positiveMassInside(map, n, channels, samples.masks);
      // Pointing game: the map's maximum (channels summed) falls on the object.
      let hit = 0;
      for (let i = 0; i < n; i++) {
        let best = -Infinity;
        let at = 0;
        for (let p = 0; p < PIXELS; p++) {
          let v = 0;
          for (let c = 0; c < channels; c++) v += map[(i * PIXELS + p) * channels + c] as number;
          if (v > best) [best, at] = [v, p];
        }
        hit += samples.masks[i * PIXELS + at] as number;
      }
      hits[label] = hit;
    }
    x.dispose();
    // The share of the image the objects cover: a map blind to the object puts about this much inside.
    let area = 0;
    for (let i = 0; i < samples.masks.length; i++) area += samples.masks[i] as number;
    const chance = area / (n * PIXELS);
    const mean = (f: number[]): number => f.reduce((a, b) => a + b, 0) / f.length;
    const report = Object.fromEntries(
      Object.entries(fractions).map(([k, f]) => [k, { meanInside: +mean(f).toFixed(3), overHalf: f.filter((v) => v > 0.5).length, pointingHits: hits[k] }]),
    );
    console.log(`positive mass inside the object mask, ${n} shapes samples (objects cover ${(100 * chance).toFixed(1)}% of the pixels):`, JSON.stringify(report));
    const gammaBox = fractions['lrp (epsilon-gamma-box)'] as number[];
    const epsPlus = fractions['lrp (epsilon-plus)'] as number[];
    // Measured: 20 of 24 over half (mean 0.594) and mean 0.558 (14 of 24 over half).
    expect(gammaBox.filter((v) => v > 0.5).length).toBeGreaterThanOrEqual(18);
    expect(mean(epsPlus)).toBeGreaterThan(0.5);
    // Grad-CAM's 8x8 map, upsampled, cannot put most of its mass on objects covering ~11% of the
    // image (measured mean 0.27, 2.5x chance); it must still beat chance clearly and point at the object.
    for (const k of ['grad-cam (b3_relu2, 8x8)', 'grad-cam (b1_relu2, 16x16)']) {
      expect(mean(fractions[k] as number[]), k).toBeGreaterThan(2 * chance);
    }
    // Measured: its maximum lies on the object in 16 of 24 images.
    expect(hits['grad-cam (b3_relu2, 8x8)']).toBeGreaterThanOrEqual(14);
  });
});

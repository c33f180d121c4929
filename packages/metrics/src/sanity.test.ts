import * as tf from '@tensorflow/tfjs-core';
import type { LayersModel } from '@tensorflow/tfjs-layers';
import { beforeAll, describe, expect, it } from 'vitest';
import { createRegistry, defineExplainer, isCnnXaiError, selectBackend } from '@cnn-xai/core';
import { loadModel } from '@cnn-xai/core/node';
import { fixtures, readReference } from '@cnn-xai/fixtures';
import { gradient, guidedBackprop } from '@cnn-xai/plugin-gradient';
import { countTensors } from '@cnn-xai/testing';
import { modelRandomisation, weightedLayers } from './sanity.js';

/**
 * An explainer that ignores the model: the input's edges, |x[h, w+1] - x[h, w]| + |x[h+1, w] - x[h, w]|.
 * Adebayo et al.'s point: such a map looks plausible but cannot pass the randomisation test.
 */
const edges = defineExplainer({
  id: 'input-edges',
  name: 'Input edges',
  family: 'test',
  kind: 'gradient',
  description: 'Edges of the input image; does not look at the model.',
  requires: { gradients: false },
  options: {},
  async explain(x) {
    const values = tf.tidy(() => {
      const g = tf.sum(x, 3);
      const [n, h, w] = g.shape as [number, number, number];
      const right = tf.pad(tf.slice(g, [0, 0, 1], [n, h, w - 1]), [[0, 0], [0, 0], [0, 1]]);
      const down = tf.pad(tf.slice(g, [0, 1, 0], [n, h - 1, w]), [[0, 0], [0, 1], [0, 0]]);
      return tf.add(tf.abs(tf.sub(right, g)), tf.abs(tf.sub(down, g)));
    });
    return { values, signed: false, extras: {} };
  },
});

const registry = createRegistry().register(gradient, guidedBackprop, edges);

async function checksum(model: LayersModel): Promise<number> {
  let s = 0;
  for (const w of model.getWeights()) {
    const d = await w.data();
    for (let i = 0; i < d.length; i++) s += (d[i] as number) * ((i % 7) + 1);
  }
  return s;
}

describe('model-parameter randomisation (sanity checks) on the Fashion-MNIST CNN', () => {
  let model: LayersModel;
  let x: tf.Tensor4D;
  beforeAll(async () => {
    await selectBackend('wasm');
    model = await loadModel(fixtures.fashionCnn);
    const imgs = readReference('images');
    x = tf.tensor4d(imgs.data.slice(0, 3 * 784), [3, 28, 28, 1]);
  });

  it('lists the layers with weights top down: logits, conv5, ..., conv1', () => {
    expect(weightedLayers(model).map((l) => l.name)).toEqual(['conv1', 'conv2', 'conv3', 'conv4', 'conv5', 'logits']);
  });

  it('flags a method that ignores the weights (input edges: the maps stay identical)', async () => {
    const r = await modelRandomisation({ model, input: x, explainer: 'input-edges', registry });
    expect(r.details.steps.map((s) => s.layer)).toEqual(['logits', 'conv5', 'conv4', 'conv3', 'conv2', 'conv1']);
    expect(r.details.steps[5]?.randomised).toEqual(['logits', 'conv5', 'conv4', 'conv3', 'conv2', 'conv1']);
    for (const s of r.details.steps) {
      expect(s.spearmanAbs).toBeCloseTo(1, 6);
      expect(s.ssim).toBeCloseTo(1, 6);
    }
    expect(r.details.flagged).toBe(true);
    expect(r.value).toBeCloseTo(1, 6);
  });

  it('passes plain gradients: the rank correlation drops as layers are randomised; the model is left as it was', async () => {
    const before = await checksum(model);
    const tensors = countTensors();
    const r = await modelRandomisation({ model, input: x, explainer: gradient, registry, seed: 3 });
    expect(countTensors()).toBe(tensors);
    expect(await checksum(model)).toBe(before);
    const abs = r.details.steps.map((s) => s.spearmanAbs);
    expect(abs[abs.length - 1]).toBeLessThan(0.5);
    expect(r.value).toBeLessThan(0.5); // the mean over the steps
    expect(r.details.final.spearmanAbs).toBe(abs[abs.length - 1]);
    expect(r.details.flagged).toBe(false);
    expect(r.details.summary.ssim).toBeLessThan(0.9);
    for (const s of r.details.steps) {
      expect(s.perImage.spearmanAbs).toHaveLength(3);
      expect(Number.isFinite(s.spearman)).toBe(true);
    }
    // Blocks of layers: three steps of two layers; the cascade after a block equals the cascade after its last layer.
    const blocks = await modelRandomisation({ model, input: x, explainer: gradient, registry, seed: 3, options: { blocks: 3 } });
    expect(blocks.details.steps.map((s) => s.block)).toEqual([['logits', 'conv5'], ['conv4', 'conv3'], ['conv2', 'conv1']]);
    expect(blocks.details.steps.map((s) => s.spearmanAbs)).toEqual([abs[1], abs[3], abs[5]]);
    // Deterministic under the seed.
    const again = await modelRandomisation({ model, input: x, explainer: gradient, registry, seed: 3, options: { layers: 'logits,conv5' } });
    expect(again.details.steps.map((s) => s.spearmanAbs)).toEqual(abs.slice(0, 2));
  });

  it('guided backprop is insensitive to the top layers (Adebayo et al.): its maps survive randomising logits and conv5', async () => {
    const r = await modelRandomisation({ model, input: x, explainer: guidedBackprop, registry, seed: 3, options: { layers: 'logits,conv5' } });
    for (const s of r.details.steps) expect(s.spearmanAbs).toBeGreaterThan(0.8);
    expect(r.details.flagged).toBe(true);
  });

  it('independent mode randomises one layer at a time and restores it', async () => {
    const r = await modelRandomisation({
      model,
      input: x,
      explainer: gradient,
      registry,
      seed: 3,
      options: { mode: 'independent', layers: ['conv5', 'conv1'] },
    });
    expect(r.metric).toBe('sanity-independent');
    expect(r.details.steps.map((s) => s.randomised)).toEqual([['conv5'], ['conv1']]);
    // The first independent step is the first cascading step of the same layer order.
    const c = await modelRandomisation({ model, input: x, explainer: gradient, registry, seed: 3, options: { layers: ['conv5'] } });
    expect(c.details.steps[0]?.spearmanAbs).toBe(r.details.steps[0]?.spearmanAbs);
    // conv5 was restored before conv1 was randomised: the step equals conv1 alone.
    const d = await modelRandomisation({ model, input: x, explainer: gradient, registry, seed: 3, options: { layers: ['conv1'] } });
    expect(d.details.steps[0]?.spearmanAbs).toBe(r.details.steps[1]?.spearmanAbs);
  });

  it('typed errors: an unknown layer lists the layers with weights', async () => {
    const err = await modelRandomisation({ model, input: x, explainer: gradient, registry, options: { layers: 'pool1' } }).catch((e: unknown) => e);
    expect(isCnnXaiError(err, 'UNKNOWN_LAYER')).toBe(true);
    expect((err as Error).message).toMatch(/conv1, conv2, conv3, conv4, conv5, logits/);
  });
});

import * as tf from '@tensorflow/tfjs-core';
import type { LayersModel } from '@tensorflow/tfjs-layers';
import { beforeAll, describe, expect, it } from 'vitest';
import { countTensors, expectClose, inputFor, tinyBranchy, tinyNested, tinyResnet, tinyVgg } from '../../../testing/src/index.js';
import { selectBackend } from '../backend.js';
import { CnnXaiError } from '../errors.js';
import { classScores } from '../targets.js';
import { ModelTap, type ScoreFn } from './tap.js';

const score: ScoreFn = (out) => classScores(out, [1, 2]);

describe('ModelTap.gradients: several layers from one backward pass', () => {
  beforeAll(async () => {
    await selectBackend('cpu');
  });

  // Layer lists mixing sequential layers (one feeds the other), skip connections, parallel
  // branches, nested models and the input itself.
  const cases: Array<[string, () => LayersModel, string[]]> = [
    ['tinyVgg', () => tinyVgg(), ['conv1', 'conv2', 'pool1', 'conv3']],
    ['tinyResnet', () => tinyResnet(), ['stem_act', 'block1_out', 'block2_act_a', 'block2_out']],
    ['tinyBranchy', () => tinyBranchy(), ['branch_a', 'branch_b', 'concat', 'conv_mid']],
    ['tinyNested', () => tinyNested(), ['image', 'features/conv_a', 'features', 'head_conv']],
  ];

  it.each(cases)('%s: each gradient and activation equals gradient(x, score, {layer})', (_, create, layers) => {
    const model = create();
    const tap = new ModelTap(model);
    const x = inputFor(model, 2, 3);
    const before = countTensors();
    const res = tap.gradients(x, score, { layers });
    expect(Object.keys(res.gradients)).toEqual(layers);
    tf.tidy(() => {
      expectClose(res.output, tap.predict(x), { rtol: 1e-6, atol: 1e-6 });
      expectClose(res.scores, classScores(res.output, [1, 2]), { rtol: 1e-6, atol: 1e-6 });
    });
    for (const layer of layers) {
      const one = layer === 'image' ? tap.gradient(x, score) : tap.gradient(x, score, { layer });
      const g = res.gradients[layer] as tf.Tensor;
      expect(g.shape).toEqual(one.gradient.shape);
      expect(tf.tidy(() => tf.max(tf.abs(one.gradient)).dataSync()[0])).toBeGreaterThan(0);
      expectClose(g, one.gradient, { rtol: 1e-5, atol: 1e-6, what: `${layer} gradient` });
      expectClose(res.activations[layer] as tf.Tensor, one.activation ?? x, { rtol: 1e-6, atol: 1e-6, what: `${layer} activation` });
      tf.dispose([one.gradient, one.activation ?? [], one.output, one.scores]);
    }
    tf.dispose([...Object.values(res.gradients), ...Object.values(res.activations), res.output, res.scores]);
    expect(countTensors()).toBe(before);
    tap.dispose();
    x.dispose();
    model.dispose();
  });

  it('an unknown layer is UNKNOWN_LAYER and leaks nothing', () => {
    const model = tinyVgg();
    const tap = new ModelTap(model);
    const x = inputFor(model, 2, 3);
    const before = countTensors();
    let error: unknown;
    try {
      tap.gradients(x, score, { layers: ['conv1', 'nope'] });
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(CnnXaiError);
    expect((error as CnnXaiError).code).toBe('UNKNOWN_LAYER');
    expect(countTensors()).toBe(before);
    tap.dispose();
    x.dispose();
    model.dispose();
  });
});

import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import { classScores, ModelTap, selectBackend } from '@cnn-xai/core';
import { inputFor, tinyResnet } from '@cnn-xai/testing';
import { guidedReluRule } from './index.js';

describe('guided backprop sign property', () => {
  it('the signal reaching every ReLU input is non-negative under the guided rule (and not under plain gradients)', async () => {
    await selectBackend('wasm');
    const model = tinyResnet();
    const tap = ModelTap.from(model);
    const x = inputFor(model, 4, 13);
    const targets = [0, 1, 2, 3];
    // Layers whose only consumer is a ReLU activation layer in tinyResnet.
    const reluInputs = ['stem_bn', 'block1_bn_a', 'block1_add', 'block2_bn_a', 'block2_add'];
    let plainNegatives = 0;
    for (const layer of reluInputs) {
      const guided = tap.gradient(x, (o) => classScores(o, targets), { layer, overrides: [guidedReluRule] });
      const plain = tap.gradient(x, (o) => classScores(o, targets), { layer });
      const g = guided.gradient.dataSync();
      expect(Math.min(...g), layer).toBeGreaterThanOrEqual(0);
      expect(Math.max(...g), layer).toBeGreaterThan(0);
      plainNegatives += plain.gradient.dataSync().filter((v) => v < 0).length;
      for (const r of [guided, plain]) tf.dispose([r.gradient, r.output, r.scores, r.activation as tf.Tensor]);
    }
    expect(plainNegatives).toBeGreaterThan(0);
    x.dispose();
    tap.dispose();
  });
});

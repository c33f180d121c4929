import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import { createRandom, createRegistry, ModelTap, resolveTarget, selectBackend, type ExplainContext } from '@cnn-xai/core';
import { inputFor, tinyResnet, tinyVgg } from '@cnn-xai/testing';
import { scoreCamMasks, scoreCamWeights } from './index.js';

/** A bare explain context for calling a variant's weight function directly. */
function contextFor(tap: ModelTap, x: tf.Tensor4D, targets: number[]): ExplainContext {
  const target = resolveTarget(targets, tap, x);
  return {
    tap,
    model: tap,
    inputGradient: async (batch, rows) => tap.gradient(batch, (out) => target.score(out, rows)).gradient,
    layerGradient: async (batch, layer, rows) => {
      const r = tap.gradient(batch, (out) => target.score(out, rows), { layer });
      return { gradient: r.gradient, activation: r.activation as tf.Tensor };
    },
    threads: 1,
    target,
    random: createRandom(0),
    registry: createRegistry(),
    signal: undefined,
    progress: () => {},
    throwIfAborted: () => {},
  };
}

describe('score-cam channel weights', () => {
  it('are a softmax over the channels: positive, summing to 1 per image, w_i / w_j = exp(s_i - s_j) for the masked-input logits s', async () => {
    await selectBackend('wasm');
    for (const [create, layer] of [
      [tinyVgg, 'conv3'],
      [tinyResnet, 'block2_out'],
    ] as const) {
      const model = create();
      const tap = ModelTap.from(model);
      const x = inputFor(model, 3, 15);
      const targets = [0, 2, 3];
      const ctx = contextFor(tap, x, targets);
      const activations = tap.activations(x, [layer])[layer] as tf.Tensor4D;
      const [n, , , k] = activations.shape;
      // Score-CAM reads neither the output nor the scores of the batch.
      const unused = tf.zeros([n]) as tf.Tensor1D;
      for (const batchSize of [3, 64]) {
        const w = await scoreCamWeights({
          input: x,
          activations,
          gradients: null,
          output: unused,
          scores: unused,
          rows: [0, 1, 2],
          layer: tap.layer(layer),
          ctx,
          options: { layer, relu: true, batchSize },
          progress: () => {},
        });
        expect(w.shape).toEqual([n, k]);
        const rows = (await w.array()) as number[][];
        w.dispose();
        for (const [b, row] of rows.entries()) {
          expect(row.every((v) => v > 0 && v < 1)).toBe(true);
          expect(row.reduce((s, v) => s + v, 0)).toBeCloseTo(1, 5);
          // The softmax keeps the order of the logits of the masked images x * H_k.
          const logits = tf.tidy(() => {
            const masks = scoreCamMasks(activations, b, 0, k, [x.shape[1], x.shape[2]]);
            const out = tap.predict(tf.mul(tf.slice(x, [b, 0, 0, 0], [1, -1, -1, -1]), masks));
            return Array.from(tf.gather(tf.transpose(out), targets[b] as number).dataSync());
          });
          // w_i / w_j = exp(s_i - s_j).
          for (let i = 1; i < k; i++) {
            expect(Math.log((row[i] as number) / (row[0] as number))).toBeCloseTo((logits[i] as number) - (logits[0] as number), 3);
          }
        }
      }
      tf.dispose([x, activations, unused]);
      tap.dispose();
      model.dispose();
    }
  });
});

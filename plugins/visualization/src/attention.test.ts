import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { PNG } from 'pngjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { explain, isCnnXaiError, ModelTap, resizeBilinear, selectBackend } from '@cnn-xai/core';
import { loadModel } from '@cnn-xai/core/node';
import { fixtures } from '@cnn-xai/fixtures';
import { describeExplainer, expectClose, inputFor, seedWeights, tinyVgg, type ModelCase } from '@cnn-xai/testing';
import { attention, attentionGate, findAttentionGates } from './index.js';

/**
 * conv - pool - conv, a gate (1x1 conv with a sigmoid, or a linear 1x1 conv followed by an
 * Activation('sigmoid') layer) multiplied into the features, GAP, dense.
 */
function tinyGated(inputShape: [number, number, number], gateAsActivation: boolean, seed: number): tfl.LayersModel {
  const L = tfl.layers;
  const input = tfl.input({ shape: inputShape, name: 'image' });
  let f = L.conv2d({ name: 'conv1', filters: 6, kernelSize: 3, padding: 'same', activation: 'relu' }).apply(input) as tfl.SymbolicTensor;
  f = L.maxPooling2d({ name: 'pool1', poolSize: 2 }).apply(f) as tfl.SymbolicTensor;
  f = L.conv2d({ name: 'conv2', filters: 8, kernelSize: 3, padding: 'same', activation: 'relu' }).apply(f) as tfl.SymbolicTensor;
  let g: tfl.SymbolicTensor;
  if (gateAsActivation) {
    g = L.conv2d({ name: 'gate_logits', filters: 1, kernelSize: 1 }).apply(f) as tfl.SymbolicTensor;
    g = L.activation({ name: 'gate', activation: 'sigmoid' }).apply(g) as tfl.SymbolicTensor;
  } else {
    g = L.conv2d({ name: 'gate', filters: 1, kernelSize: 1, activation: 'sigmoid' }).apply(f) as tfl.SymbolicTensor;
  }
  let y = L.multiply({ name: 'gated' }).apply([f, g]) as tfl.SymbolicTensor;
  y = L.globalAveragePooling2d({ name: 'gap' }).apply(y) as tfl.SymbolicTensor;
  const out = L.dense({ name: 'logits', units: 4 }).apply(y) as tfl.SymbolicTensor;
  return seedWeights(tfl.model({ name: 'tiny_gated', inputs: input, outputs: out }), seed);
}

/** The 20 fashion sample images as a [20, 28, 28, 1] batch in [0, 1], with their labels. */
function fashionBatch(): { x: tf.Tensor4D; labels: number[]; files: string[] } {
  const samples = JSON.parse(readFileSync(join(fixtures.fashionImages, 'labels.json'), 'utf8')) as Array<{ file: string; label: number }>;
  const data = new Float32Array(samples.length * 784);
  samples.forEach((s, i) => {
    const png = PNG.sync.read(readFileSync(join(fixtures.fashionImages, s.file)));
    for (let p = 0; p < 784; p++) data[i * 784 + p] = (png.data[p * 4] as number) / 255;
  });
  return { x: tf.tensor4d(data, [samples.length, 28, 28, 1]), labels: samples.map((s) => s.label), files: samples.map((s) => s.file) };
}

describe('attention', () => {
  let model: tfl.LayersModel;
  let tap: ModelTap;
  let batch: ReturnType<typeof fashionBatch>;
  beforeAll(async () => {
    await selectBackend('wasm');
    model = await loadModel(fixtures.attentionCnn);
    tap = ModelTap.from(model);
    batch = fashionBatch();
  });
  afterAll(() => {
    batch.x.dispose();
    tap.dispose();
    model.dispose();
  });

  it('the attention-cnn fixture loads, reproduces the PyTorch logits and finds its gate', async () => {
    expect(tap.layerNames()).toEqual(['input', 'conv1', 'pool1', 'conv2', 'conv3', 'attention', 'gated', 'gap', 'logits']);
    const torch = JSON.parse(readFileSync(join(fixtures.attentionCnn, 'logits.json'), 'utf8')) as Record<string, number[]>;
    const ours = tap.predict(batch.x);
    const ref = tf.tensor2d(batch.files.map((f) => torch[f] as number[]));
    expectClose(ours, ref, { atol: 1e-4, rtol: 0, what: 'tf.js vs PyTorch logits' });
    tf.dispose([ours, ref]);
    const gates = findAttentionGates(tap);
    expect(gates.map((g) => [g.gate.name, g.gated.map((l) => l.name), g.features.map((l) => l.name)])).toEqual([['attention', ['gated'], ['conv3']]]);
  });

  it("returns the gate the model multiplies its features by: gated == conv3 * gate, values = upsampled gate", async () => {
    const r = await explain(attention, { model: tap, input: batch.x });
    expect(r.layer).toBe('attention');
    expect(r.signed).toBe(false);
    expect(r.values.shape).toEqual([20, 28, 28]);
    const acts = tap.activations(batch.x, ['conv3', 'attention', 'gated']);
    const gate = acts['attention'] as tf.Tensor4D;
    const layerMap = r.extras['layerMap'] as tf.Tensor;
    expectClose(layerMap, tf.squeeze(gate, [3]), { atol: 0, rtol: 0, what: 'gate maps vs tap activations' });
    const product = tf.mul(acts['conv3'] as tf.Tensor, gate);
    expectClose(acts['gated'] as tf.Tensor, product, { atol: 1e-6, what: 'features_out vs features_in * gate' });
    const up = resizeBilinear(layerMap, [28, 28]);
    expectClose(r.values, up, { atol: 0, rtol: 0, what: 'values vs upsampled gate' });
    const v = await r.values.data();
    expect(Array.from(v).every((t) => t > 0 && t < 1)).toBe(true);
    // Where does the gate open? Mean gate on garment pixels (> 0.1) vs background, at input resolution.
    const px = await batch.x.data();
    let inside = 0;
    let nIn = 0;
    let outside = 0;
    let nOut = 0;
    for (let i = 0; i < v.length; i++) {
      if ((px[i] as number) > 0.1) {
        inside += v[i] as number;
        nIn++;
      } else {
        outside += v[i] as number;
        nOut++;
      }
    }
    console.info(`[attention] fixture gate on the 20 samples: mean ${(inside / nIn).toFixed(3)} on garment pixels, ${(outside / nOut).toFixed(3)} on background`);
    expect(r.extras['gates']).toEqual(['attention']);
    expect(r.extras['gated']).toEqual(['gated']);
    expect(r.extras['features']).toEqual(['conv3']);
    tf.dispose([...Object.values(acts), product, up]);
    r.dispose();
    // Naming the Multiply layer picks the gate it applies.
    const byMultiply = await explain(attention, { model: tap, input: batch.x, options: { layer: 'gated', batchSize: 7 } });
    expect(byMultiply.layer).toBe('attention');
    expect(byMultiply.values.shape).toEqual([20, 28, 28]);
    byMultiply.dispose();
  });

  it('fails with typed errors on models without a gate and on layers that are not gates', async () => {
    const vgg = tinyVgg();
    const x = inputFor(vgg, 1, 1);
    const err = await explain(attention, { model: vgg, input: x }).catch((e: unknown) => e);
    expect(isCnnXaiError(err, 'UNSUPPORTED_MODEL'), String(err)).toBe(true);
    const vggTap = ModelTap.from(vgg);
    expect(() => attentionGate(vggTap, 'conv2')).toThrowError(/not a spatial attention gate/);
    expect(() => attentionGate(tap, 'conv3')).toThrowError(/is what an attention gate multiplies/);
    expect(() => attentionGate(tap, 'conv2')).toThrow(expect.objectContaining({ code: 'UNSUPPORTED_LAYER' }));
    expect(() => attentionGate(tap, 'nope')).toThrow(expect.objectContaining({ code: 'UNKNOWN_LAYER' }));
    vggTap.dispose();
    x.dispose();
    vgg.dispose();
  });

  it('finds gates made of a linear conv and an Activation("sigmoid") layer', () => {
    const m = tinyGated([12, 12, 3], true, 3);
    const t = ModelTap.from(m);
    expect(findAttentionGates(t).map((g) => g.gate.name)).toEqual(['gate']);
    t.dispose();
    m.dispose();
  });
});

const gated: ModelCase[] = [
  { name: 'tinyGated (1 channel, sigmoid conv)', create: () => tinyGated([16, 16, 1], false, 1) },
  { name: 'tinyGated (RGB, Activation gate)', create: () => tinyGated([12, 12, 3], true, 2) },
];
describeExplainer(attention, { models: gated });

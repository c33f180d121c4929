import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRegistry, explain, isCnnXaiError, ModelTap, selectBackend } from '@cnn-xai/core';
import { expectClose, inputFor } from '@cnn-xai/testing';
import { ablationCam } from './index.js';
import { gapModel } from './test-models.js';

const registry = createRegistry().register(ablationCam);

/** The map by definition: for each image and channel, zero the channel and run the head alone. */
function referenceMap(tap: ModelTap, x: tf.Tensor4D, layer: string, targets: number[]): number[] {
  const acts = tap.activations(x, [layer])[layer] as tf.Tensor4D;
  const [n, h, w, k] = acts.shape;
  const a = acts.arraySync();
  const out: number[] = [];
  for (let b = 0; b < n; b++) {
    const ab = tf.slice(acts, [b, 0, 0, 0], [1, -1, -1, -1]);
    const t = targets[b] as number;
    const logit = (act: tf.Tensor): number => tf.tidy(() => (tap.runFrom(layer, act).arraySync() as number[][])[0]?.[t] as number);
    const y = logit(ab);
    const wk: number[] = [];
    for (let c = 0; c < k; c++) {
      const ablated = tf.tidy(() => tf.mul(ab, tf.tensor4d(Array.from({ length: k }, (_, j) => (j === c ? 0 : 1)), [1, 1, 1, k])));
      wk.push((y - logit(ablated)) / y);
      ablated.dispose();
    }
    for (let i = 0; i < h; i++) for (let j = 0; j < w; j++) out.push(wk.reduce((s, v, c) => s + v * (a[b]?.[i]?.[j]?.[c] as number), 0));
    ab.dispose();
  }
  acts.dispose();
  return out;
}

describe('ablation-cam: all images of a batch in each head pass (no skip connection around the layer)', () => {
  let model: tfl.LayersModel;
  let tap: ModelTap;
  let x: tf.Tensor4D;
  const targets = [0, 3, 1];
  let expected: number[];
  beforeAll(async () => {
    await selectBackend('wasm');
    model = gapModel(40, { biasOnes: true });
    tap = ModelTap.from(model);
    x = inputFor(model, 3, 5);
    expect(tap.headNeedsContext('c2')).toBe(false);
    expected = referenceMap(tap, x, 'c2', targets);
  });
  afterAll(() => {
    x.dispose();
    tap.dispose();
    model.dispose();
  });

  // batchSize -> the rows of each head pass: images per batch x floor(batchSize / images) channels.
  const cases: Array<[number, number[]]> = [
    [1, new Array<number>(24).fill(1)], // one image per batch, one channel per pass
    [2, [...new Array<number>(8).fill(2), ...new Array<number>(4).fill(2)]], // batches of 2 + 1 images
    [3, new Array<number>(8).fill(3)],
    [7, [6, 6, 6, 6]], // 3 images x 2 channels
    [10, [9, 9, 6]], // 3 x 3, 3 x 3, 3 x 2
    [64, [24]], // every image and channel in one pass
  ];
  for (const [batchSize, passes] of cases) {
    it(`batchSize ${batchSize}: head passes of ${[...new Set(passes)].join(' or ')} rows, the map of the definition`, async () => {
      const rows: number[] = [];
      const head = tap.head.bind(tap);
      const spy = (name: string, context?: tf.Tensor) => {
        const h = head(name, context);
        return { run: (a: tf.Tensor, o?: Parameters<typeof h.run>[1]) => (rows.push(a.shape[0] as number), h.run(a, o)), dispose: () => h.dispose() };
      };
      tap.head = spy;
      const before = tf.memory().numTensors;
      try {
        const r = await explain(ablationCam, { model: tap, input: x, target: targets, options: { layer: 'c2', relu: false, batchSize }, registry });
        const ours = Array.from(await (r.extras['layerMap'] as tf.Tensor).data());
        r.dispose();
        expect(rows).toEqual(passes);
        expectClose(ours, expected, { rtol: 1e-4, what: `batchSize ${batchSize}` });
      } finally {
        tap.head = head;
      }
      expect(tf.memory().numTensors).toBe(before);
    });
  }

  it('aborted between head passes: rejects with ABORTED and leaks nothing', async () => {
    const before = tf.memory().numTensors;
    const controller = new AbortController();
    const run = explain(ablationCam, {
      model: tap,
      input: x,
      target: targets,
      options: { layer: 'c2', batchSize: 3 },
      registry,
      signal: controller.signal,
      onProgress: (f) => f > 0.3 && controller.abort(),
    });
    await expect(run).rejects.toSatisfy((e: unknown) => isCnnXaiError(e, 'ABORTED'));
    expect(tf.memory().numTensors).toBe(before);
  });

  it('a target function that throws on the head outputs: the error comes through and nothing leaks', async () => {
    const before = tf.memory().numTensors;
    // The forward pass scores 3 rows; the ablated copies come in larger groups.
    const target = (out: tf.Tensor): tf.Tensor1D => {
      if ((out.shape[0] as number) > 3) throw new Error('target failed');
      return tf.tidy(() => tf.squeeze(tf.slice(out, [0, 0], [-1, 1]), [1]) as tf.Tensor1D);
    };
    await expect(explain(ablationCam, { model: tap, input: x, target, options: { layer: 'c2', batchSize: 7 }, registry })).rejects.toThrow('target failed');
    expect(tf.memory().numTensors).toBe(before);
  });
});

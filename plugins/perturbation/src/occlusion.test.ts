import * as tf from '@tensorflow/tfjs-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { blackBox, CnnXaiError, createRegistry, explain, ModelTap, selectBackend } from '@cnn-xai/core';
import { countTensors, expectClose, inputFor, linearModel } from '@cnn-xai/testing';
import { occlusion, occlusionGeometry, occlusionMasks, register } from './index.js';

async function errorOf(p: Promise<unknown>): Promise<CnnXaiError> {
  try {
    await p;
  } catch (e) {
    expect(e).toBeInstanceOf(CnnXaiError);
    return e as CnnXaiError;
  }
  throw new Error('expected a rejection');
}

/** Scores [f, -f] with f(x) = sum over pixels and channels of w * x, as a black box (explain class 0). */
function linearBox(weights: number[], shape: [number, number, number]) {
  const w = tf.tensor4d(weights, [1, ...shape]);
  const box = blackBox(
    (x) =>
      tf.tidy(() => {
        const f = tf.sum(tf.mul(x, w), [1, 2, 3]);
        return tf.stack([f, tf.neg(f)], 1);
      }),
    { inputShape: shape, numClasses: 2 },
  );
  return { box, dispose: () => w.dispose() };
}

/** Captum's occlusion written out naively in plain JS, for one image of [H, W, C] values. */
function naiveOcclusion(f: (img: Float32Array) => number, img: Float32Array, [h, w, c]: number[], win: number, stride: number, baseline = 0): Float32Array {
  const sum = new Float32Array(h! * w!);
  const count = new Float32Array(h! * w!);
  const f0 = f(img);
  const ny = Math.ceil((h! - win) / stride) + 1;
  const nx = Math.ceil((w! - win) / stride) + 1;
  for (let py = 0; py < ny; py++) {
    for (let px = 0; px < nx; px++) {
      const occ = Float32Array.from(img);
      const cells: number[] = [];
      for (let i = py * stride; i < Math.min(h!, py * stride + win); i++) {
        for (let j = px * stride; j < Math.min(w!, px * stride + win); j++) {
          cells.push(i * w! + j);
          for (let k = 0; k < c!; k++) occ[(i * w! + j) * c! + k] = baseline;
        }
      }
      const d = f0 - f(occ);
      for (const p of cells) {
        sum[p]! += d;
        count[p]! += 1;
      }
    }
  }
  return sum.map((v, i) => v / count[i]!);
}

describe('occlusion', () => {
  const registry = register(createRegistry());
  beforeAll(async () => {
    await selectBackend('wasm');
  });
  afterAll(() => undefined);

  it('hand-computed: a 3x3 linear score, window 2, stride 1, zero baseline', async () => {
    // f(x) = sum w_ij x_ij with w = 1..9 on an all-ones image. The four windows drop
    // TL 1+2+4+5 = 12, TR 2+3+5+6 = 16, BL 4+5+7+8 = 24, BR 5+6+8+9 = 28; each pixel is the
    // mean of the windows covering it: the corners one window, the edges two, the centre all four.
    const { box, dispose } = linearBox([1, 2, 3, 4, 5, 6, 7, 8, 9], [3, 3, 1]);
    const x = tf.ones([1, 3, 3, 1]);
    const before = countTensors();
    const r = await explain(occlusion, { model: box, input: x, target: 0, options: { window: 2, stride: 1 } });
    expect(r.values.shape).toEqual([1, 3, 3]);
    expect(r.signed).toBe(true);
    expect(Array.from(await r.values.data())).toEqual([12, 14, 16, 18, 20, 22, 24, 26, 28]);
    expect(r.extras['positions']).toEqual([2, 2]);
    expect(Array.from(await (r.extras['scoreDrops'] as tf.Tensor).data())).toEqual([12, 16, 24, 28]);
    expect(r.extras['baseScores']).toEqual([45]);
    r.dispose();
    expect(countTensors()).toBe(before);
    x.dispose();
    dispose();
  });

  it("hand-computed: Captum's last window is cut at the border when the stride does not divide the room", async () => {
    // 2x3 image, window 2, stride 2: rows have 1 position, columns ceil(1/2) + 1 = 2, at 0 and 2;
    // the second window covers column 2 only. Drops: 1+2+4+5 = 12 and 3+6 = 9.
    const g = occlusionGeometry(2, 3, 2, 2);
    expect(g.positions).toEqual([1, 2]);
    expect(g.starts).toEqual([[0], [0, 2]]);
    expect(g.cover).toEqual([[1, 1], [1, 1, 1]]);
    const { box, dispose } = linearBox([1, 2, 3, 4, 5, 6], [2, 3, 1]);
    const x = tf.ones([1, 2, 3, 1]);
    const r = await explain(occlusion, { model: box, input: x, target: 0, options: { window: 2, stride: 2 } });
    expect(Array.from(await r.values.data())).toEqual([12, 12, 9, 12, 12, 9]);
    r.dispose();
    x.dispose();
    dispose();
  });

  it('windows span all channels; the baseline may be a number', async () => {
    // f = sum of all values of a 2x2x2 image of ones: a 1x1 window removes both channels (drop 2).
    const { box, dispose } = linearBox(new Array(8).fill(1), [2, 2, 2]);
    const x = tf.ones([1, 2, 2, 2]);
    const r = await explain(occlusion, { model: box, input: x, target: 0, options: { window: 1, stride: 1 } });
    expect(r.values.shape).toEqual([1, 2, 2]);
    expect(Array.from(await r.values.data())).toEqual([2, 2, 2, 2]);
    r.dispose();
    // Replacing ones by 1 changes nothing; by 3, each window raises the score by 2 * 2.
    const same = await explain(occlusion, { model: box, input: x, target: 0, options: { window: 1, baseline: 1 } });
    expect(Array.from(await same.values.data())).toEqual([0, 0, 0, 0]);
    same.dispose();
    const up = await explain(occlusion, { model: box, input: x, target: 0, options: { window: 2, baseline: 3 } });
    expect(Array.from(await up.values.data())).toEqual([-16, -16, -16, -16]);
    up.dispose();
    x.dispose();
    dispose();
  });

  it('equals the naive definition on a tf.LayersModel and on a plain function, in any batching', async () => {
    const model = linearModel({ inputShape: [7, 6, 2], classes: 3, seed: 4 });
    const tap = ModelTap.from(model);
    const box = blackBox((b) => tap.predict(b), { inputShape: [7, 6, 2], batchSize: 4 });
    const x = inputFor(model, 3, 9);
    const [kernel, bias] = model.getWeights() as [tf.Tensor2D, tf.Tensor1D];
    const wk = (await kernel.data()) as Float32Array;
    const b = (await bias.data()) as Float32Array;
    const xs = (await x.data()) as Float32Array;
    const targets = [2, 0, 1];
    const per = 7 * 6 * 2;
    const expected = new Float32Array(3 * 42);
    targets.forEach((t, i) => {
      const f = (img: Float32Array): number => img.reduce((s, v, k) => s + v * wk[k * 3 + t]!, b[t]!);
      expected.set(naiveOcclusion(f, xs.subarray(i * per, (i + 1) * per), [7, 6, 2], 3, 2, 0.25), i * 42);
    });
    const options = { window: 3, stride: 2, baseline: 0.25, batchSize: 5 };
    for (const m of [model, box]) {
      const r = await explain(occlusion, { model: m, input: x, target: targets, options });
      expect(r.values.shape).toEqual([3, 7, 6]);
      expectClose(r.values, expected, { rtol: 1e-5, atol: 1e-5, what: m === box ? 'black box' : 'LayersModel' });
      r.dispose();
    }
    // One big batch gives the same map.
    const whole = await explain(occlusion, { model: box, input: x, target: targets, options: { ...options, batchSize: 1000 } });
    expectClose(whole.values, expected, { rtol: 1e-5, atol: 1e-5 });
    whole.dispose();
    x.dispose(); // kernel and bias are the model's own variables
    tap.dispose();
    model.dispose();
  });

  it('auto window and stride: a seventh of the shorter side and half of it', () => {
    expect(occlusionGeometry(28, 28, 0, 0)).toMatchObject({ window: 4, stride: 2, positions: [13, 13] });
    expect(occlusionGeometry(224, 224, 0, 0)).toMatchObject({ window: 32, stride: 16, positions: [13, 13] });
    expect(occlusionGeometry(12, 16, 0, 0)).toMatchObject({ window: 2, stride: 1, positions: [11, 15] });
    expect(occlusionGeometry(28, 28, 5, 0)).toMatchObject({ window: 5, stride: 3, positions: [9, 9] });
    const m = occlusionMasks(occlusionGeometry(3, 3, 2, 1), 3, 3, [3]);
    expect(Array.from(m.dataSync())).toEqual([0, 0, 0, 0, 1, 1, 0, 1, 1]);
    m.dispose();
  });

  it('bad geometry is a typed error naming the image size, and nothing leaks', async () => {
    const model = linearModel({ inputShape: [6, 5, 1], classes: 2 });
    const x = inputFor(model, 1, 1);
    const before = countTensors();
    const big = await errorOf(explain(occlusion, { model, input: x, options: { window: 6 } }));
    expect(big.code).toBe('BAD_OPTION_VALUE');
    expect(big.message).toContain('6 x 5');
    expect(big.message).toContain('at most 5');
    const stride = await errorOf(explain(occlusion, { model, input: x, options: { window: 2, stride: 3 } }));
    expect(stride.code).toBe('BAD_OPTION_VALUE');
    expect(stride.message).toMatch(/stride/);
    const badBaseline = await errorOf(explain(occlusion, { model, input: x, options: { baseline: [1, 2, 3] } }));
    expect(badBaseline.code).toBe('BAD_OPTION_VALUE');
    // A window as wide as the image has one column position, whatever the stride; rows have
    // ceil(1 / 5) + 1 = 2 positions, the second cut to the last row.
    const full = await explain(occlusion, { model, input: x, options: { window: 5, stride: 5 } });
    expect(full.extras['positions']).toEqual([2, 1]);
    full.dispose();
    expect(countTensors()).toBe(before);
    x.dispose();
    model.dispose();
  });

  it('is registered as a black-box explainer', () => {
    expect(registry.get('occlusion')).toBe(occlusion);
    expect(occlusion.requires.gradients).toBe(false);
  });
});

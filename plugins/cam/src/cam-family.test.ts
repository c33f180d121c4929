import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRegistry, explain, isCnnXaiError, ModelTap, minMaxScale, opt, resizeBilinear, selectBackend, type AnyExplainer, type PaperRef } from '@cnn-xai/core';
import { expectClose, inputFor, tinyBranchy, tinyMobilenet, tinyResnet, tinyVgg } from '@cnn-xai/testing';
import {
  ablationCam,
  cam,
  createCamExplainer,
  dominantEigenvector,
  eigenCam,
  gradCam,
  gradCamPlusPlus,
  hiResCam,
  layerCam,
  principalProjection,
  register,
  scoreCam,
  scoreCamMasks,
  xGradCam,
} from './index.js';
import { gapModel } from './test-models.js';

const registry = register(createRegistry());

/*
 * The hand model: input 2x2x2 -> conv 1x1 `conv` with the identity kernel (A^1 = x[..., 0],
 * A^2 = x[..., 1]; linear, no bias) -> flatten -> dense `logits` (8 -> 2, no bias). The logit
 * of class 0 is sum_ij g1_ij A^1_ij + g2_ij A^2_ij, so dS/dA^k = g_k exactly, and it varies
 * over positions (unlike a GAP head), which makes the variants differ.
 */
const g1 = [1, -1, 2, 0];
const g2 = [0.5, 1, -2, 3];
const A1 = [1, 2, 3, 4];
const A2 = [4, 0, 2, 1];

function handModel(): tfl.LayersModel {
  const input = tfl.input({ shape: [2, 2, 2] });
  const conv = tfl.layers.conv2d({ filters: 2, kernelSize: 1, useBias: false, name: 'conv' });
  const flat = tfl.layers.flatten({ name: 'flatten' });
  const dense = tfl.layers.dense({ units: 2, useBias: false, name: 'logits' });
  const model = tfl.model({ inputs: input, outputs: dense.apply(flat.apply(conv.apply(input))) as tfl.SymbolicTensor });
  conv.setWeights([tf.tensor4d([1, 0, 0, 1], [1, 1, 2, 2])]);
  // Flatten order (channels last): row (p * 2 + k) for position p and channel k.
  const w: number[][] = [];
  for (let p = 0; p < 4; p++) {
    w.push([g1[p] as number, 0.1]);
    w.push([g2[p] as number, 0.1]);
  }
  dense.setWeights([tf.tensor2d(w)]);
  return model;
}

function handInput(): tf.Tensor4D {
  const v: number[] = [];
  for (let p = 0; p < 4; p++) v.push(A1[p] as number, A2[p] as number);
  return tf.tensor4d(v, [1, 2, 2, 2]);
}

const sum = (xs: number[]): number => xs.reduce((s, v) => s + v, 0);
const combine = (w1: number, w2: number): number[] => A1.map((a, p) => w1 * a + w2 * (A2[p] as number));

async function rawMap(explainer: AnyExplainer, model: tfl.LayersModel | ModelTap, x: tf.Tensor, options: Record<string, unknown> = {}, target: number | number[] = 0): Promise<number[]> {
  const r = await explain(explainer, { model, input: x, target, options: { relu: false, ...options }, registry });
  try {
    return Array.from(await (r.extras['layerMap'] as tf.Tensor).data());
  } finally {
    r.dispose();
  }
}

describe('CAM family: hand-computed maps (conv 1x1 identity -> flatten -> dense)', () => {
  let model: tfl.LayersModel;
  let x: tf.Tensor4D;
  beforeAll(async () => {
    await selectBackend('wasm');
    model = handModel();
    x = handInput();
  });
  afterAll(() => {
    x.dispose();
    model.dispose();
  });

  it('grad-cam: alpha_k = mean g_k = [0.5, 0.625]', async () => {
    expectClose(await rawMap(gradCam, model, x), combine(0.5, 0.625), { what: 'grad-cam' });
    expectClose(combine(0.5, 0.625), [3, 1, 2.75, 2.625]);
  });

  it('hires-cam: sum_k g_k * A^k position by position = [3, -2, 2, 3]', async () => {
    expectClose(await rawMap(hiResCam, model, x), [3, -2, 2, 3], { what: 'hires-cam' });
    // With the ReLU (default) the negative position is cut.
    const r = await explain(hiResCam, { model, input: x, target: 0, registry });
    expectClose(r.values, tf.tensor3d([3, 0, 2, 3], [1, 2, 2]), { what: 'hires-cam relu' });
    expect(r.signed).toBe(false);
    r.dispose();
  });

  it('layer-cam: sum_k relu(g_k) * A^k = [3, 0, 6, 3]', async () => {
    expectClose(await rawMap(layerCam, model, x), [3, 0, 6, 3], { what: 'layer-cam' });
  });

  it('xgrad-cam: w_k = sum(g_k A^k) / sum(A^k) = [5/10, 1/7]', async () => {
    expectClose(await rawMap(xGradCam, model, x), combine(0.5, 1 / 7), { what: 'xgrad-cam' });
  });

  it("grad-cam-plus-plus: pytorch-grad-cam's alphas g^2 / (2 g^2 + sum(A) g^3), positive gradients only", async () => {
    // Channel 1 (sum A = 10): positions with g > 0 are 0 (g = 1) and 2 (g = 2):
    //   1 * 1/(2 + 10) + 2 * 4/(8 + 80) = 1/12 + 1/11.
    // Channel 2 (sum A = 7): g = 0.5, 1, 3 at positions 0, 1, 3:
    //   0.5 * 0.25/(0.5 + 7/8) + 1 * 1/(2 + 7) + 3 * 9/(18 + 189) = 1/11 + 1/9 + 3/23.
    const w1 = 1 / 12 + 1 / 11;
    const w2 = 1 / 11 + 1 / 9 + 3 / 23;
    expectClose(await rawMap(gradCamPlusPlus, model, x), combine(w1, w2), { rtol: 1e-5, what: 'grad-cam++' });
  });

  it('ablation-cam: w_k = (y - y_k) / y with y = 6, y_1 = 1, y_2 = 5', async () => {
    // y = sum_p (g1 A1 + g2 A2) = 3 - 2 + 2 + 3 = 6; zeroing channel 1 removes sum(g1 A1) = 5,
    // zeroing channel 2 removes sum(g2 A2) = 1.
    expect(sum(g1.map((g, p) => g * (A1[p] as number)))).toBe(5);
    expect(sum(g2.map((g, p) => g * (A2[p] as number)))).toBe(1);
    expectClose(await rawMap(ablationCam, model, x), combine(5 / 6, 1 / 6), { what: 'ablation-cam' });
    // The batch size (ablated copies per head pass) does not change the result.
    expectClose(await rawMap(ablationCam, model, x, { batchSize: 1 }), combine(5 / 6, 1 / 6), { what: 'ablation-cam batchSize 1' });
  });

  it('score-cam: softmax over channels of the logit of x * minmax(A^k)', async () => {
    // Masks (the layer is already at input size): minmax(A1) = [0, 1/3, 2/3, 1], minmax(A2) = [1, 0, 1/2, 1/4].
    // The masked input's logit is sum_p m_p c_p with c = g1 A1 + g2 A2 = [3, -2, 2, 3] per position.
    const c = [3, -2, 2, 3];
    const m1 = [0, 1 / 3, 2 / 3, 1];
    const m2 = [1, 0, 0.5, 0.25];
    const s1 = sum(m1.map((m, p) => m * (c[p] as number))); // 11/3
    const s2 = sum(m2.map((m, p) => m * (c[p] as number))); // 4.75
    expect(s1).toBeCloseTo(11 / 3, 12);
    expect(s2).toBeCloseTo(4.75, 12);
    const w1 = 1 / (1 + Math.exp(s2 - s1));
    expectClose(await rawMap(scoreCam, model, x), combine(w1, 1 - w1), { rtol: 1e-5, what: 'score-cam' });
    expectClose(await rawMap(scoreCam, model, x, { batchSize: 1 }), combine(w1, 1 - w1), { rtol: 1e-5, what: 'score-cam batchSize 1' });
  });

  it('score-cam masks are upsampled with aligned corners (PyTorch UpsamplingBilinear2d), then min-max scaled', () => {
    // [[0, 4], [8, 12]] to 4x4 with aligned corners: value(r, c) = 4c/3 + 8r/3, so the
    // min-max scaled mask is (c + 2r) / 9. Half-pixel centres would give rows [0, 1, 3, 4]-like
    // values instead (the corners are not sampled at the layer's positions).
    const a = tf.tensor4d([0, 4, 8, 12], [1, 2, 2, 1]);
    const masks = scoreCamMasks(a, 0, 0, 1, [4, 4]);
    const expected: number[] = [];
    for (let r = 0; r < 4; r++) for (let c = 0; c < 4; c++) expected.push((c + 2 * r) / 9);
    expectClose(masks, tf.tensor4d(expected, [1, 4, 4, 1]), { atol: 1e-6 });
    const halfPixel = minMaxScale(resizeBilinear(a, [4, 4]));
    expect(Math.abs((halfPixel.dataSync()[1] as number) - (expected[1] as number))).toBeGreaterThan(0.01);
    tf.dispose([a, masks, halfPixel]);
  });
});

describe('CAM family on a GAP + dense head', () => {
  beforeAll(async () => {
    await selectBackend('wasm');
  });

  it('cam reads the dense weights: map = sum_k w_k^c A^k (computed by hand from the activations)', async () => {
    const model = gapModel(11, { biasOnes: true });
    const x = tf.randomUniform([2, 12, 12, 3], 0, 1, 'float32', 3) as tf.Tensor4D;
    const targets = [1, 4];
    const res = await explain(cam, { model, input: x, target: targets, options: { relu: false }, registry });
    expect(res.layer).toBe('c2');
    const acts = (tfl.model({ inputs: model.inputs, outputs: model.getLayer('c2').output as tfl.SymbolicTensor }).predict(x) as tf.Tensor4D).arraySync();
    const w = (model.getLayer('fc').getWeights()[0] as tf.Tensor2D).arraySync();
    const expected: number[] = [];
    for (let n = 0; n < 2; n++) {
      for (let i = 0; i < 6; i++) {
        for (let j = 0; j < 6; j++) {
          let v = 0;
          for (let k = 0; k < 8; k++) v += (w[k]?.[targets[n] as number] as number) * (acts[n]?.[i]?.[j]?.[k] as number);
          expected.push(v);
        }
      }
    }
    expectClose(res.extras['layerMap'] as tf.Tensor, expected, { rtol: 1e-5, what: 'cam' });
    res.dispose();
    x.dispose();
    model.dispose();
  });

  it('grad-cam * Z = relu(cam), and cam, grad-cam, hires-cam, xgrad-cam agree (raw maps, up to 1/Z)', async () => {
    const model = gapModel(12, { biasOnes: true });
    const x = tf.randomUniform([3, 12, 12, 3], 0, 1, 'float32', 5) as tf.Tensor4D;
    const targets = [0, 2, 3];
    const Z = 36;
    const camRaw = await rawMap(cam, model, x, {}, targets);
    const camRelu = camRaw.map((v) => Math.max(v, 0));
    const gc = await explain(gradCam, { model, input: x, target: targets, registry });
    expectClose(Array.from(await (gc.extras['layerMap'] as tf.Tensor).data(), (v) => v * Z), camRelu, { rtol: 1e-5, what: 'grad-cam * Z vs relu(cam)' });
    gc.dispose();
    const camRect = await explain(cam, { model, input: x, target: targets, registry });
    expectClose(camRect.extras['layerMap'] as tf.Tensor, camRelu, { rtol: 1e-6, what: 'cam with relu' });
    camRect.dispose();
    const scaled = camRaw.map((v) => v / Z);
    for (const e of [gradCam, hiResCam, xGradCam]) {
      expectClose(await rawMap(e, model, x, {}, targets), scaled, { rtol: 1e-5, what: `${e.id} vs cam / Z` });
    }
    x.dispose();
    model.dispose();
  });

  it('cam on a non-GAP head is NOT_A_CAM_MODEL, naming the layers and suggesting grad-cam', async () => {
    const model = tinyBranchy();
    const x = inputFor(model, 1, 3);
    await expect(explain(cam, { model, input: x, target: 0, registry })).rejects.toSatisfy(
      (e: unknown) =>
        isCnnXaiError(e, 'NOT_A_CAM_MODEL') &&
        /"conv_mid"/.test((e as Error).message) &&
        /flatten \(Flatten\), dropout \(Dropout\), logits \(Dense\)/.test((e as Error).message) &&
        /grad-cam/.test((e as Error).message),
    );
    x.dispose();
    model.dispose();
    // A ReLU between the layer and the pooling breaks CAM too.
    const resnet = tinyResnet();
    const y = inputFor(resnet, 1, 3);
    await expect(explain(cam, { model: resnet, input: y, target: 0, options: { layer: 'block2_add' }, registry })).rejects.toSatisfy(
      (e: unknown) => isCnnXaiError(e, 'NOT_A_CAM_MODEL') && /block2_out \(Activation\)/.test((e as Error).message),
    );
    // A target function gives no class whose weights to read.
    await expect(explain(cam, { model: resnet, input: y, target: (out) => tf.sum(out, 1) as tf.Tensor1D, registry })).rejects.toSatisfy(
      (e: unknown) => isCnnXaiError(e, 'BAD_TARGET'),
    );
    y.dispose();
    resnet.dispose();
  });

  it('cam accepts a dense layer with a softmax (stripped: the logits are explained)', async () => {
    const model = tinyMobilenet();
    const x = inputFor(model, 1, 2);
    const a = await rawMap(cam, model, x, {}, 1);
    const b = await rawMap(gradCam, model, x, {}, 1);
    expectClose(a.map((v) => v / 36), b, { rtol: 1e-5, what: 'cam / Z vs grad-cam on tinyMobilenet' });
    x.dispose();
    model.dispose();
  });
});

describe('multi-layer CAMs', () => {
  beforeAll(async () => {
    await selectBackend('wasm');
  });

  it('a list of layers averages the per-layer maps, each scaled per image first, after upsampling', async () => {
    const model = tinyVgg();
    const x = inputFor(model, 2, 4);
    const targets = [1, 3];
    for (const relu of [true, false]) {
      const ups: tf.Tensor[] = [];
      for (const layer of ['conv2', 'conv3']) {
        const r = await explain(layerCam, { model, input: x, target: targets, options: { layer, relu }, registry });
        const lm = r.extras['layerMap'] as tf.Tensor;
        // relu: min-max to [0, 1] (pytorch-grad-cam's scale_cam_image); no relu: divide by max |map|.
        const scaled = relu ? minMaxScale(lm) : tf.div(lm, tf.add(tf.max(tf.abs(lm), [1, 2], true), 1e-7));
        ups.push(resizeBilinear(scaled, [16, 16]));
        scaled.dispose();
        r.dispose();
      }
      const expected = tf.div(tf.add(ups[0] as tf.Tensor, ups[1] as tf.Tensor), 2);
      const both = await explain(layerCam, { model, input: x, target: targets, options: { layer: 'conv2,conv3', relu }, registry });
      expect(both.layer).toEqual(['conv2', 'conv3']);
      expect(both.signed).toBe(!relu);
      expect(Object.keys(both.extras).sort()).toEqual(['layerMap:conv2', 'layerMap:conv3']);
      expect((both.extras['layerMap:conv2'] as tf.Tensor).shape).toEqual([2, 16, 16]);
      expect((both.extras['layerMap:conv3'] as tf.Tensor).shape).toEqual([2, 8, 8]);
      expectClose(both.values, expected, { rtol: 1e-5, what: `layer list, relu ${relu}` });
      const values = await both.values.data();
      if (relu) expect(Math.min(...values)).toBeGreaterThanOrEqual(0);
      expect(Math.max(...values.map(Math.abs))).toBeLessThanOrEqual(1 + 1e-6);
      both.dispose();
      tf.dispose([...ups, expected]);
    }
    await expect(explain(layerCam, { model, input: x, options: { layer: ['conv3', 'conv3'] }, registry })).rejects.toSatisfy((e: unknown) =>
      isCnnXaiError(e, 'BAD_OPTION_VALUE'),
    );
    await expect(explain(gradCam, { model, input: x, options: { layer: ['conv3', 'gap'] }, registry })).rejects.toSatisfy((e: unknown) =>
      isCnnXaiError(e, 'NO_CONV_LAYER'),
    );
    x.dispose();
    model.dispose();
  });
});

describe('ablation-cam with a skip connection around the layer', () => {
  it('runs the head with the image as context, one image at a time', async () => {
    await selectBackend('wasm');
    const model = tinyResnet();
    const tap = ModelTap.from(model);
    const x = inputFor(model, 2, 6);
    const layer = 'block2_bn_b'; // block2_add also reads the projection shortcut
    expect(tap.headNeedsContext(layer)).toBe(true);
    const targets = [0, 4];
    const ours = await rawMap(ablationCam, tap, x, { layer, batchSize: 3 }, targets);
    // Independently: zero channel k, run the head from the layer with the image as context.
    const acts = tap.activations(x, [layer])[layer] as tf.Tensor4D;
    const [n, h, w, k] = acts.shape;
    const expected: number[] = [];
    const a = acts.arraySync();
    for (let b = 0; b < n; b++) {
      const img = tf.slice(x, [b, 0, 0, 0], [1, -1, -1, -1]);
      const ab = tf.slice(acts, [b, 0, 0, 0], [1, -1, -1, -1]);
      const t = targets[b] as number;
      const logit = (act: tf.Tensor): number => tf.tidy(() => (tap.runFrom(layer, act, { context: img }).arraySync() as number[][])[0]?.[t] as number);
      const y = logit(ab);
      const wk: number[] = [];
      for (let c = 0; c < k; c++) {
        const mask = tf.tensor4d(Array.from({ length: k }, (_, j) => (j === c ? 0 : 1)), [1, 1, 1, k]);
        const ablated = tf.mul(ab, mask);
        wk.push((y - logit(ablated)) / y);
        tf.dispose([mask, ablated]);
      }
      for (let i = 0; i < h; i++) for (let j = 0; j < w; j++) expected.push(sum(wk.map((v, c) => v * (a[b]?.[i]?.[j]?.[c] as number))));
      tf.dispose([img, ab]);
    }
    expectClose(ours, expected, { rtol: 1e-4, what: 'ablation-cam with context' });
    tf.dispose([x, acts]);
    tap.dispose();
    model.dispose();
  });
});

describe('eigen-cam', () => {
  it('projects on the first principal component of the centred activations; the larger-magnitude side is positive', () => {
    // Centred rows: [-1,-1], [-1,-1], [2,2]: the component is (1,1)/sqrt(2), projections
    // -sqrt(2), -sqrt(2), 2 sqrt(2): the peak is positive.
    const s = Math.SQRT2;
    expectClose(principalProjection([0, 0, 0, 0, 3, 3], 3, 2), [-s, -s, 2 * s], { what: 'peak positive' });
    // Its mirror image ([3,3], [3,3], [0,0]) gives +sqrt(2), +sqrt(2), -2 sqrt(2) before the
    // sign rule, which flips it because |min| > |max|.
    expectClose(principalProjection([3, 3, 3, 3, 0, 0], 3, 2), [-s, -s, 2 * s], { what: 'dip flipped' });
    // Scaling the activations by -1 gives the same map (the sign is fixed by the rule, not the SVD).
    const m = Array.from({ length: 12 * 5 }, (_, i) => Math.sin(i * 1.7) + 0.3 * Math.cos(i * 0.37));
    const p = principalProjection(m, 12, 5);
    expectClose(principalProjection(m.map((v) => -v), 12, 5), p, { what: 'sign of the data' });
    const lo = Math.min(...p);
    const hi = Math.max(...p);
    expect(Math.abs(hi)).toBeGreaterThanOrEqual(Math.abs(lo));
  });

  it('the dual (fewer positions than channels) equals the primal projection; the component maximises the variance', () => {
    const rows = 4;
    const cols = 7;
    const m = Array.from({ length: rows * cols }, (_, i) => Math.cos(i * 0.91) * (1 + (i % 3)));
    const dual = principalProjection(m, rows, cols);
    // Primal by hand: centre, C^T C, dominant eigenvector, project, sign rule.
    const c = m.slice();
    for (let j = 0; j < cols; j++) {
      const mu = sum(Array.from({ length: rows }, (_, i) => m[i * cols + j] as number)) / rows;
      for (let i = 0; i < rows; i++) c[i * cols + j] = (m[i * cols + j] as number) - mu;
    }
    const g = new Float64Array(cols * cols);
    for (let a = 0; a < cols; a++) for (let b = 0; b < cols; b++) for (let i = 0; i < rows; i++) g[a * cols + b] = (g[a * cols + b] as number) + (c[i * cols + a] as number) * (c[i * cols + b] as number);
    const { vector, value } = dominantEigenvector(g, cols);
    let primal = Array.from({ length: rows }, (_, i) => sum(Array.from({ length: cols }, (_, j) => (c[i * cols + j] as number) * (vector[j] as number))));
    if (Math.abs(Math.min(...primal)) > Math.abs(Math.max(...primal))) primal = primal.map((v) => -v);
    expectClose(dual, primal, { rtol: 1e-9, what: 'dual vs primal' });
    // ||projection||^2 = the largest eigenvalue >= the variance along any other unit direction.
    expect(sum(Array.from(dual, (v) => v * v))).toBeCloseTo(value, 9);
    for (let t = 0; t < 50; t++) {
      const d = Array.from({ length: cols }, (_, j) => Math.sin(t * 7.3 + j * 2.1));
      const norm = Math.sqrt(sum(d.map((v) => v * v)));
      const q = Array.from({ length: rows }, (_, i) => sum(d.map((dj, j) => (c[i * cols + j] as number) * (dj / norm))));
      expect(sum(q.map((v) => v * v))).toBeLessThanOrEqual(value * (1 + 1e-12));
    }
    // A constant matrix has no principal direction: the projection is zero.
    expect(Array.from(principalProjection([1, 2, 1, 2, 1, 2], 3, 2))).toEqual([0, 0, 0]);
  });

  it('is class-independent and needs no gradients', async () => {
    await selectBackend('wasm');
    expect(eigenCam.requires.gradients).toBe(false);
    const model = tinyVgg();
    const x = inputFor(model, 1, 9);
    const a = await rawMap(eigenCam, model, x, {}, 0);
    const b = await rawMap(eigenCam, model, x, {}, 3);
    expect(b).toEqual(a);
    x.dispose();
    model.dispose();
  });
});

describe('createCamExplainer', () => {
  it('a variant supplies only its weights; its extra options are validated and reach it', async () => {
    await selectBackend('wasm');
    const scaled = createCamExplainer({
      id: 'scaled-grad-cam',
      name: 'Scaled Grad-CAM',
      description: 'Grad-CAM weights times a factor, to test the base.',
      paper: { title: 't', authors: 'a', year: 2024, url: 'https://example.org' },
      requiresGradients: true,
      extraOptions: { factor: opt.number({ default: 1, min: 0, max: 10, description: 'Multiplies the weights.' }) },
      weights: ({ gradients, options }) => tf.mul(tf.mean(gradients as tf.Tensor4D, [1, 2]), options.factor),
    });
    expect(Object.keys(scaled.options)).toEqual(['layer', 'relu', 'batchSize', 'factor']);
    const model = handModel();
    const x = handInput();
    const local = createRegistry().register(scaled);
    const r = await explain(scaled, { model, input: x, target: 0, options: { relu: false, factor: 2 }, registry: local });
    expectClose(r.extras['layerMap'] as tf.Tensor, combine(1, 1.25), { what: 'factor 2' });
    r.dispose();
    await expect(explain(scaled, { model, input: x, options: { factor: 11 }, registry: local })).rejects.toSatisfy((e: unknown) =>
      isCnnXaiError(e, 'BAD_OPTION_VALUE'),
    );
    expect(() =>
      createCamExplainer({ id: 'both', name: 'b', description: 'd', paper: scaled.paper as PaperRef, requiresGradients: false, weights: () => tf.zeros([1, 1]), camImage: () => tf.zeros([1, 1, 1]) }),
    ).toThrow(/exactly one of weights and camImage/);
    x.dispose();
    model.dispose();
  });
});

describe('the family', () => {
  it('every variant is registered with a paper, a description and the shared options', () => {
    const ids = registry.list({ family: 'cam' }).map((e) => e.id);
    expect(ids).toEqual(['grad-cam', 'cam', 'grad-cam-plus-plus', 'xgrad-cam', 'hires-cam', 'layer-cam', 'score-cam', 'ablation-cam', 'eigen-cam', 'integrated-grad-cam', 'guided-grad-cam']);
    // Options beyond the shared layer, relu and batchSize (guided-grad-cam: one layer, no relu).
    const own: Record<string, string[]> = {
      'integrated-grad-cam': ['baseline', 'batchSize', 'layer', 'relu', 'rule', 'seed', 'steps'],
      'guided-grad-cam': ['batchSize', 'layer', 'upsample'],
    };
    for (const e of registry.list({ family: 'cam' })) {
      expect(e.kind).toBe('cam');
      expect(e.paper?.url).toMatch(/^https:\/\//);
      expect(e.description.length).toBeGreaterThan(40);
      expect(Object.keys(e.options).sort()).toEqual(own[e.id] ?? ['batchSize', 'layer', 'relu']);
      expect(e.options['layer']).toMatchObject({ type: 'layer', multiple: e.id !== 'guided-grad-cam' });
      if ('relu' in e.options) expect(e.options['relu']).toMatchObject({ default: true });
    }
    expect(registry.list({ family: 'cam' }).filter((e) => !e.requires.gradients).map((e) => e.id)).toEqual(['cam', 'score-cam', 'ablation-cam', 'eigen-cam']);
  });
});

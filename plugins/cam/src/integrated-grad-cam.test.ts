import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRandom, createRegistry, explain, isCnnXaiError, makeBaseline, minMaxScale, quadrature, resizeBilinear, RULES, selectBackend, type Rule, type Target } from '@cnn-xai/core';
import { expectClose, inputFor, tinyResnet, tinyVgg } from '@cnn-xai/testing';
import { gradCam, integratedGradCam, register } from './index.js';

const registry = register(createRegistry());

/**
 * A positively homogeneous network up to its last conv layer: conv (relu, no bias) - max pool -
 * conv `c2` (relu, no bias) - GAP - dense (with a bias, which changes no gradient and no
 * activation). A(alpha x) = alpha A(x) for alpha >= 0 and d y^c / d A^k = w_k^c / Z everywhere.
 */
function homogeneousModel(seed: number): tfl.LayersModel {
  const init = (s: number) => tfl.initializers.glorotUniform({ seed: seed + s });
  const m = tfl.sequential();
  m.add(tfl.layers.conv2d({ inputShape: [10, 10, 2], filters: 5, kernelSize: 3, padding: 'same', activation: 'relu', useBias: false, kernelInitializer: init(1), name: 'c1' }));
  m.add(tfl.layers.maxPooling2d({ poolSize: 2, name: 'p1' }));
  m.add(tfl.layers.conv2d({ filters: 6, kernelSize: 3, padding: 'same', activation: 'relu', useBias: false, kernelInitializer: init(2), name: 'c2' }));
  m.add(tfl.layers.globalAveragePooling2d({ name: 'gap' }));
  m.add(tfl.layers.dense({ units: 4, kernelInitializer: init(3), biasInitializer: 'ones', name: 'fc' }));
  return m;
}

async function run(
  explainer: typeof integratedGradCam | typeof gradCam,
  model: tfl.LayersModel,
  x: tf.Tensor,
  target: Target,
  options: Record<string, unknown> = {},
): Promise<{ layerMap: Float32Array; values: Float32Array; extras: Record<string, unknown> }> {
  const r = await explain(explainer, { model, input: x, target, options, registry });
  try {
    const layerMap = Float32Array.from(await (r.extras['layerMap'] as tf.Tensor).data());
    const values = Float32Array.from(await r.values.data());
    const extras = Object.fromEntries(Object.entries(r.extras).filter(([, v]) => !(v instanceof tf.Tensor)));
    return { layerMap, values, extras };
  } finally {
    r.dispose();
  }
}

const times = (a: ArrayLike<number>, s: number): number[] => Array.from(a, (v) => v * s);

describe('integrated-grad-cam: closed form on a bias-free ReLU network with a GAP head (zero baseline)', () => {
  let model: tfl.LayersModel;
  let x: tf.Tensor4D;
  const targets = [1, 3];
  beforeAll(async () => {
    await selectBackend('wasm');
    model = homogeneousModel(21);
    x = tf.randomUniform([2, 10, 10, 2], 0, 1, 'float32', 4) as tf.Tensor4D;
  });
  afterAll(() => {
    x.dispose();
    model.dispose();
  });

  it('defaults (riemann-left, 50 steps, zeros): ((m - 1) / 2) x Grad-CAM = 24.5 x Grad-CAM, at the layer and after upsampling', async () => {
    // s_i = ReLU(sum_k (w_k/Z) A^k(i x / m)) = (i/m) GradCAM(x), and sum_{i<m} i/m = (m-1)/2.
    const gc = await run(gradCam, model, x, targets);
    const ig = await run(integratedGradCam, model, x, targets);
    expect(ig.extras).toEqual({ steps: 50, rule: 'riemann-left' });
    expect(Math.max(...gc.layerMap)).toBeGreaterThan(0);
    expectClose(ig.layerMap, times(gc.layerMap, 24.5), { rtol: 1e-5, what: 'layer map vs 24.5 grad-cam' });
    expectClose(ig.values, times(gc.values, 24.5), { rtol: 1e-5, what: 'upsampled map vs 24.5 grad-cam' });
  });

  it('every rule: m sum_i w_i alpha_i x Grad-CAM: (m-1)/2 left, (m+1)/2 right, m/2 for middle, trapezoid, Gauss-Legendre; with and without the ReLU', async () => {
    const m = 7;
    const factor: Record<Rule, number> = {
      'riemann-left': (m - 1) / 2,
      'riemann-right': (m + 1) / 2,
      'riemann-middle': m / 2,
      'riemann-trapezoid': m / 2,
      'gauss-legendre': m / 2,
    };
    for (const relu of [true, false]) {
      const gc = await run(gradCam, model, x, targets, { relu });
      // Without the ReLU the raw Grad-CAM map has both signs: the property holds for it too.
      if (!relu) expect(Math.min(...gc.layerMap)).toBeLessThan(0);
      for (const rule of RULES) {
        const ig = await run(integratedGradCam, model, x, targets, { steps: m, rule, relu, batchSize: 5 });
        expectClose(ig.layerMap, times(gc.layerMap, factor[rule]), { rtol: 1e-5, what: `${rule}, relu ${relu}` });
      }
    }
  });

  it('linear in the head: scaling the class weights (kernel and bias) by s > 0 scales the map by s', async () => {
    // Holds on any network (tinyVgg has biases everywhere): the activations are unchanged and
    // every gradient scales by s, so each path point's map does, and the ReLU commutes with s.
    const vgg = tinyVgg();
    const y = inputFor(vgg, 2, 5);
    const before = await run(integratedGradCam, vgg, y, [0, 2], { steps: 8, baseline: 'blur' });
    const dense = vgg.getLayer('logits');
    const [kernel, bias] = dense.getWeights() as [tf.Tensor, tf.Tensor];
    const s = 2.5;
    const scaled = [tf.mul(kernel, s), tf.mul(bias, s)];
    dense.setWeights(scaled);
    const after = await run(integratedGradCam, vgg, y, [0, 2], { steps: 8, baseline: 'blur' });
    expect(Math.max(...before.layerMap)).toBeGreaterThan(0);
    expectClose(after.layerMap, times(before.layerMap, s), { rtol: 1e-5, what: 'scaled head' });
    tf.dispose([...scaled, y]);
    vgg.dispose();
  });
});

describe('integrated-grad-cam: the sum of Grad-CAM maps along the path (any network)', () => {
  beforeAll(async () => {
    await selectBackend('wasm');
  });

  /**
   * Our own Grad-CAM at every path point x' + alpha_i (x - x'), weighted by m w_i and summed per
   * image: [N * h * w] values.
   */
  async function pathSum(model: tfl.LayersModel, x: tf.Tensor4D, baseline: tf.Tensor4D, targets: number[], rule: Rule, m: number, options: Record<string, unknown>): Promise<Float64Array> {
    const { alphas, weights } = quadrature(rule, m);
    const n = x.shape[0];
    const points = tf.tidy(() => {
      const parts: tf.Tensor[] = [];
      for (let b = 0; b < n; b++) {
        const xb = tf.slice(x, [b, 0, 0, 0], [1, -1, -1, -1]);
        const bb = tf.slice(baseline, [b, 0, 0, 0], [1, -1, -1, -1]);
        for (const a of alphas) parts.push(tf.add(bb, tf.mul(a, tf.sub(xb, bb))));
      }
      return tf.concat(parts, 0);
    });
    const perPoint = targets.flatMap((t) => new Array<number>(m).fill(t));
    const gc = await run(gradCam, model, points, perPoint, options);
    points.dispose();
    const per = gc.layerMap.length / (n * m);
    const out = new Float64Array(n * per);
    for (let b = 0; b < n; b++) {
      for (let i = 0; i < m; i++) {
        const f = m * (weights[i] as number);
        for (let j = 0; j < per; j++) out[b * per + j] = (out[b * per + j] as number) + f * (gc.layerMap[(b * m + i) * per + j] as number);
      }
    }
    return out;
  }

  it('tinyResnet (BatchNorm, biases, a skip connection around the layer): riemann-left with a constant baseline, Gauss-Legendre with a seeded uniform one', async () => {
    const model = tinyResnet();
    const x = inputFor(model, 2, 8);
    const targets = [4, 1];
    const layer = 'block2_bn_b'; // block2_add also reads the shortcut: the head needs the path point as context
    const constant = makeBaseline(x, 0.25);
    const expectedLeft = await pathSum(model, x, constant, targets, 'riemann-left', 6, { layer });
    const left = await run(integratedGradCam, model, x, targets, { layer, steps: 6, baseline: 0.25, batchSize: 4 });
    expectClose(left.layerMap, expectedLeft, { rtol: 1e-4, what: 'riemann-left, baseline 0.25' });
    // The uniform baseline is drawn from the seeded stream: the `seed` option's.
    const uniform = makeBaseline(x, 'uniform', { random: createRandom(3) });
    for (const relu of [true, false]) {
      const expectedGl = await pathSum(model, x, uniform, targets, 'gauss-legendre', 5, { layer, relu });
      const gl = await run(integratedGradCam, model, x, targets, { layer, relu, steps: 5, rule: 'gauss-legendre', baseline: 'uniform', seed: 3, batchSize: 3 });
      expectClose(gl.layerMap, expectedGl, { rtol: 1e-4, what: `gauss-legendre, uniform baseline, relu ${relu}` });
    }
    tf.dispose([x, constant, uniform]);
    model.dispose();
  });

  it('one riemann-left step is Grad-CAM of the baseline (alpha_0 = 0)', async () => {
    const model = tinyVgg();
    const x = inputFor(model, 2, 9);
    const base = makeBaseline(x, 'blur');
    const ig = await run(integratedGradCam, model, x, [1, 2], { steps: 1, baseline: 'blur' });
    const gc = await run(gradCam, model, base, [1, 2]);
    expectClose(ig.layerMap, gc.layerMap, { rtol: 1e-5, what: 'steps 1' });
    tf.dispose([x, base]);
    model.dispose();
  });

  it('batchSize only changes how path points are grouped (points of several images share a pass)', async () => {
    const model = tinyVgg();
    const x = inputFor(model, 3, 10);
    const a = await run(integratedGradCam, model, x, [0, 1, 3], { steps: 9, batchSize: 64 });
    for (const batchSize of [1, 4, 10]) {
      const b = await run(integratedGradCam, model, x, [0, 1, 3], { steps: 9, batchSize });
      expectClose(b.layerMap, a.layerMap, { rtol: 1e-5, what: `batchSize ${batchSize}` });
    }
    x.dispose();
    model.dispose();
  });

  it('a list of layers averages the per-layer maps, each scaled per image, after upsampling', async () => {
    const model = tinyVgg();
    const x = inputFor(model, 2, 11);
    const options = { steps: 5 };
    const ups: tf.Tensor[] = [];
    for (const layer of ['conv2', 'conv3']) {
      const r = await explain(integratedGradCam, { model, input: x, target: [2, 3], options: { ...options, layer }, registry });
      const scaled = minMaxScale(r.extras['layerMap'] as tf.Tensor);
      ups.push(resizeBilinear(scaled, [16, 16]));
      scaled.dispose();
      r.dispose();
    }
    const both = await explain(integratedGradCam, { model, input: x, target: [2, 3], options: { ...options, layer: ['conv2', 'conv3'] }, registry });
    expect(both.layer).toEqual(['conv2', 'conv3']);
    expect(Object.keys(both.extras).sort()).toEqual(['layerMap:conv2', 'layerMap:conv3', 'rule', 'steps']);
    const expected = tf.div(tf.add(ups[0] as tf.Tensor, ups[1] as tf.Tensor), 2);
    expectClose(both.values, expected, { rtol: 1e-5, what: 'layer list' });
    both.dispose();
    tf.dispose([...ups, expected, x]);
    model.dispose();
  });

  it('rejects the trapezoid rule with one step and a non-spatial layer', async () => {
    const model = tinyVgg();
    const x = inputFor(model, 1, 12);
    await expect(explain(integratedGradCam, { model, input: x, options: { steps: 1, rule: 'riemann-trapezoid' }, registry })).rejects.toSatisfy(
      (e: unknown) => isCnnXaiError(e, 'BAD_OPTION_VALUE') && /trapezoid/.test((e as Error).message),
    );
    await expect(explain(integratedGradCam, { model, input: x, options: { layer: 'gap' }, registry })).rejects.toSatisfy((e: unknown) =>
      isCnnXaiError(e, 'NO_CONV_LAYER'),
    );
    x.dispose();
    model.dispose();
  });
});

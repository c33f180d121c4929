import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { createRandom, isCnnXaiError, selectBackend } from '@cnn-xai/core';
import { expectClose, expectNoLeakedTensors } from '@cnn-xai/testing';
import { formatObjectives, parseObjectives } from './objectives.js';
import { colorCorrelationNormalized, createImageParam, fourierBases, irfft2d, rfft2d, rfft2dFreqs } from './param.js';
import { applyTransform, drawTransform, rotate, shear } from './transforms.js';

/** NumPy's irfft2 written out: x[y,x] = 1/(hw) sum c_kx Re(S e^{2 pi i (ky y/h + kx x/w)}). */
function naiveIrfft2(re: number[], im: number[], h: number, w: number): number[] {
  const wf = Math.floor(w / 2) + 1;
  const out: number[] = [];
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      let s = 0;
      for (let ky = 0; ky < h; ky++) {
        for (let kx = 0; kx < wf; kx++) {
          const c = kx === 0 || 2 * kx === w ? 1 : 2;
          const a = 2 * Math.PI * ((ky * y) / h + (kx * x) / w);
          s += c * ((re[ky * wf + kx] as number) * Math.cos(a) - (im[ky * wf + kx] as number) * Math.sin(a));
        }
      }
      out.push(s / (h * w));
    }
  }
  return out;
}

describe('parameterisations', () => {
  beforeAll(async () => {
    await selectBackend('cpu');
  });

  it('rfft2dFreqs follows NumPy fftfreq (even and odd sizes)', () => {
    const f = rfft2dFreqs(4, 4); // fy = [0, .25, -.5, -.25], fx = [0, .25, -.5]
    expect(Array.from(f)).toEqual([0, 0.25, 0.5, 0.25, Math.SQRT2 / 4, Math.sqrt(0.25 * 0.25 + 0.25)].map((v) => expect.closeTo(v, 6)).concat(
      [0.5, Math.sqrt(0.25 + 0.0625), Math.SQRT1_2, 0.25, Math.SQRT2 / 4, Math.sqrt(0.0625 + 0.25)].map((v) => expect.closeTo(v, 6)),
    ));
    expect(rfft2dFreqs(5, 5).length).toBe(5 * 3);
  });

  it('irfft2d equals the written-out inverse real DFT; rfft2d inverts it on real images', async () => {
    await expectNoLeakedTensors(() => {
      for (const [h, w] of [
        [4, 6],
        [5, 7],
      ] as const) {
        const wf = Math.floor(w / 2) + 1;
        const rnd = createRandom(h * 10 + w);
        const re = Array.from(rnd.normalArray(h * wf));
        const im = Array.from(rnd.normalArray(h * wf));
        const bases = fourierBases(h, w);
        const reT = tf.tensor3d(re, [1, h, wf]);
        const imT = tf.tensor3d(im, [1, h, wf]);
        const got = irfft2d(reT, imT, bases);
        expectClose(got, naiveIrfft2(re, im, h, w), { atol: 1e-5, what: `irfft2d ${h}x${w}` });
        const img = tf.tensor3d(Array.from(rnd.normalArray(2 * h * w)), [2, h, w]);
        const [fr, fi] = rfft2d(img, bases);
        const back = irfft2d(fr, fi, bases);
        expectClose(back, img, { atol: 1e-5, what: `irfft2d(rfft2d(x)) ${h}x${w}` });
        tf.dispose([reT, imT, got, img, fr, fi, back]);
        bases.dispose();
      }
    });
  });

  it('Fourier and pixel images are real, in the valid range, and start near mid-grey; init from an image reproduces it', async () => {
    const shape: [number, number, number, number] = [2, 9, 8, 3];
    for (const parameterization of ['fourier', 'pixel'] as const) {
      for (const valid of ['sigmoid', 'clip'] as const) {
        await expectNoLeakedTensors(() => {
          const p = createImageParam(shape, { parameterization, decorrelate: true, valid, decay: 1, low: -1, high: 2 }, createRandom(1));
          // Push the parameters far out: the image must stay inside [low, high].
          const big = p.params.map((t) => tf.mul(t, 1e4));
          const img = p.image(big);
          expect(img.shape).toEqual(shape);
          const v = img.dataSync();
          expect(v.every((x) => Number.isFinite(x) && x >= -1 && x <= 2)).toBe(true);
          const start = p.image(p.params);
          const s = start.dataSync();
          tf.dispose([...big, img, start, ...p.params]);
          p.dispose();
          // sigmoid(0) = mid-range; clip: Lucid's colour mean (0.41..0.48 of the range).
          const [lo, hi] = valid === 'sigmoid' ? [0.5 - 0.15, 0.5 + 0.15] : [-1 + 3 * 0.35, -1 + 3 * 0.55];
          const off = Array.from(s).findIndex((x) => x < lo || x > hi);
          expect(off, `${parameterization}/${valid}: start value ${s[off]} outside [${lo}, ${hi}]`).toBe(-1);
        });
      }
    }
    // Starting from an image gives that image back (up to the 1%..99% clamp and the 0.01 noise).
    const target = tf.tidy(() => tf.add(tf.mul(tf.tensor4d(createRandom(3).uniformArray(2 * 9 * 8 * 3), shape), 0.8), 0.1) as tf.Tensor4D);
    for (const parameterization of ['fourier', 'pixel'] as const) {
      const p = createImageParam(shape, { parameterization, decorrelate: true, valid: 'sigmoid', decay: 1, low: 0, high: 1 }, createRandom(2), target);
      const img = p.image(p.params);
      expectClose(img, target, { atol: 0.02, what: `${parameterization} init from an image` });
      tf.dispose([img, ...p.params]);
      p.dispose();
    }
    target.dispose();
  });

  it('decorrelation uses the normalised Lucid matrix (largest column norm 1)', () => {
    const m = colorCorrelationNormalized();
    const norms = [0, 1, 2].map((c) => Math.hypot(...m.map((r) => r[c] as number)));
    expect(Math.max(...norms)).toBeCloseTo(1, 6);
  });
});

describe('transforms', () => {
  beforeAll(async () => {
    await selectBackend('cpu');
  });

  it('with every amount 0 the transform is the identity', () => {
    const x = tf.tensor4d(createRandom(1).uniformArray(2 * 6 * 6), [2, 6, 6, 1]);
    const o = { pad: 0, jitter: 0, scale: 0, rotate: 0, fill: 0.5 };
    const y = applyTransform(x, o, drawTransform(o, createRandom(2)));
    expectClose(y, x, { atol: 0 });
    tf.dispose([x, y]);
  });

  it('rotation by 90 degrees through three shears is the exact pixel rotation (odd size)', () => {
    const x = tf.tensor4d(Array.from({ length: 25 }, (_, i) => i + 1), [1, 5, 5, 1]);
    const r = rotate(x, Math.PI / 2, 0);
    // Content moves from (col, row) to R (col, row) about the centre, R = [[cos, -sin], [sin, cos]]:
    // for 90 degrees out[row][col] = in[4 - col][row].
    const src = x.arraySync()[0] as number[][][];
    const expected = Array.from({ length: 5 }, (_, row) => Array.from({ length: 5 }, (_, col) => src[4 - col]?.[row]?.[0] as number));
    const got = tf.squeeze(r);
    expectClose(got, expected, { atol: 1e-5 });
    tf.dispose([x, r, got]);
  });

  it('a shear by a whole number of pixels per row is an exact shift; the fill comes in at the border', () => {
    const x = tf.ones([1, 3, 4, 1]) as tf.Tensor4D;
    const s = shear(x, 2, 1); // row y moves by (y - 1): -1, 0, +1
    expect(tf.squeeze(s).arraySync()).toEqual([
      [1, 1, 1, 0],
      [1, 1, 1, 1],
      [0, 1, 1, 1],
    ]);
    tf.dispose([x, s]);
  });

  it('random transforms keep the size, stay in range, are differentiable and leak nothing', async () => {
    const x = tf.tensor4d(createRandom(4).uniformArray(2 * 16 * 16 * 3), [2, 16, 16, 3]);
    const o = { pad: 2, jitter: 2, scale: 0.1, rotate: 10, fill: 0.5 };
    await expectNoLeakedTensors(() => {
      const rnd = createRandom(5);
      for (let i = 0; i < 5; i++) {
        const d = drawTransform(o, rnd);
        const g = tf.grad((a: tf.Tensor) => tf.sum(applyTransform(a as tf.Tensor4D, o, d)))(x);
        const y = applyTransform(x, o, d);
        expect(y.shape).toEqual([2, 16, 16, 3]);
        const v = y.dataSync();
        expect(v.every((t) => t >= -1e-6 && t <= 1 + 1e-6)).toBe(true);
        expect(g.dataSync().some((t) => t !== 0)).toBe(true);
        tf.dispose([g, y]);
      }
    });
    x.dispose();
  });
});

describe('objective strings', () => {
  it('parses the compact form and formats it back', () => {
    const specs = parseObjectives('channel:conv5:3*1, class:2*0.5,neuron:conv5:7@3,4*2,layer:conv4*0.1,diversity*10,channel:5,class');
    expect(specs).toEqual([
      { type: 'channel', layer: 'conv5', channel: 3, weight: 1 },
      { type: 'class', channel: 2, weight: 0.5 },
      { type: 'neuron', layer: 'conv5', channel: 7, position: [3, 4], weight: 2 },
      { type: 'layer', layer: 'conv4', weight: 0.1 },
      { type: 'diversity', weight: 10 },
      { type: 'channel', channel: 5, weight: 1 },
      { type: 'class', weight: 1 },
    ]);
    expect(parseObjectives(formatObjectives(specs))).toEqual(specs);
    expect(formatObjectives(specs)).toBe('channel:conv5:3,class:2*0.5,neuron:conv5:7@3,4*2,layer:conv4*0.1,diversity*10,channel:5,class');
  });

  it('rejects bad terms with BAD_OPTION_VALUE', () => {
    for (const bad of ['blob:1', 'channel:conv5:x', 'class:conv5', 'channel:conv5:3*w', 'layer:conv4@1,2', 'neuron:c:1@1', 'channel::3']) {
      let err: unknown;
      try {
        parseObjectives(bad);
      } catch (e) {
        err = e;
      }
      expect(isCnnXaiError(err, 'BAD_OPTION_VALUE'), bad).toBe(true);
    }
  });
});

import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-core/dist/public/chained_ops/register_all_chained_ops';
import type { LayersModel } from '@tensorflow/tfjs-layers';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { countTensors, inputFor, tinyMobilenet, tinyVgg } from '../../testing/src/index.js';
import { selectBackend } from './backend.js';
import { CnnXaiError } from './errors.js';
import { ModelTap } from './tap/tap.js';
import { classScores, resolveTarget } from './targets.js';

describe('targets', () => {
  let model: LayersModel;
  let tap: ModelTap;
  let x: tf.Tensor4D;
  beforeAll(async () => {
    await selectBackend('wasm');
    model = tinyVgg();
    tap = new ModelTap(model);
    x = inputFor(model, 6, 2);
  });
  afterAll(() => {
    x.dispose();
    tap.dispose();
    model.dispose();
  });

  it("'top' (and the default) equals the argmax of the model's output per image", () => {
    const out = model.predict(x) as tf.Tensor2D;
    const rows = out.arraySync();
    const argmax = rows.map((r) => r.indexOf(Math.max(...r)));
    expect(new Set(argmax).size).toBeGreaterThan(1); // the inputs are not all the same class
    const before = countTensors();
    expect(resolveTarget('top', tap, x).classes).toEqual(argmax);
    expect(resolveTarget(undefined, tap, x).classes).toEqual(argmax);
    expect(countTensors()).toBe(before);
    out.dispose();
  });

  it("'top' on a softmax model uses the same class as its probabilities", () => {
    const m = tinyMobilenet();
    const t = new ModelTap(m);
    const xm = inputFor(m, 4, 3);
    const probs = (m.predict(xm) as tf.Tensor2D).arraySync();
    expect(resolveTarget('top', t, xm).classes).toEqual(probs.map((r) => r.indexOf(Math.max(...r))));
    m.dispose();
  });

  it('a number is one class for every image; a list is one per image; scores pick those logits', () => {
    expect(resolveTarget(2, tap, x).classes).toEqual([2, 2, 2, 2, 2, 2]);
    const classes = [0, 1, 2, 3, 0, 1];
    const t = resolveTarget(classes, tap, x);
    expect(t.classes).toEqual(classes);
    const out = tap.predict(x);
    const logits = (out as tf.Tensor2D).arraySync();
    expect(Array.from(t.score(out).dataSync())).toEqual(classes.map((c, i) => logits[i]?.[c]).map((v) => Math.fround(v as number)));
    // rows: many rows per image (IG path points)
    const rows = [5, 5, 0];
    const three = out.gather([1, 2, 3]);
    expect(Array.from(t.score(three, rows).dataSync())).toEqual([logits[1]?.[1], logits[2]?.[1], logits[3]?.[0]].map((v) => Math.fround(v as number)));
  });

  it.each([
    ['a class past the last', 4],
    ['a negative class', -1],
    ['a fraction', 1.5],
    ['a list of the wrong length', [0, 1]],
    ['a list with a bad class', [0, 1, 2, 3, 0, 9]],
  ])('%s is BAD_TARGET', (_, target) => {
    let error: unknown;
    try {
      resolveTarget(target as number, tap, x);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(CnnXaiError);
    expect((error as CnnXaiError).code).toBe('BAD_TARGET');
  });

  it('a function target is used as is, with no classes', () => {
    const f = (out: tf.Tensor): tf.Tensor1D => tf.sum(out, 1) as tf.Tensor1D;
    const t = resolveTarget(f, tap, x);
    expect(t.classes).toBeNull();
    const out = tap.predict(x);
    expect(Array.from(t.score(out).dataSync())).toEqual(Array.from(tf.sum(out, 1).dataSync()));
  });

  it('classScores is differentiable and one-hot in its gradient', () => {
    const out = tf.tensor2d([[1, 2, 3], [4, 5, 6]]);
    expect(Array.from(classScores(out, [2, 0]).dataSync())).toEqual([3, 4]);
    const g = tf.grad((o: tf.Tensor) => tf.sum(classScores(o, [2, 0])))(out);
    expect(g.arraySync()).toEqual([[0, 0, 1], [1, 0, 0]]);
  });
});

import * as tf from '@tensorflow/tfjs-core';
import { batchRanges, BASELINES, CnnXaiError, defineExplainer, makeBaseline, opt, quadrature, RULES, yieldToEventLoop } from '@cnn-xai/core';

/**
 * Integrated Gradients (Sundararajan et al. 2017): (x - x') times the path integral of the
 * gradient from the baseline x' to x, with Captum's integration rules. Path points of all
 * images are batched together (`batchSize` points per pass). The result carries the
 * completeness delta per image: sum(IG) - (F(x) - F(x')), which goes to 0 as steps grow.
 */
export const integratedGradients = defineExplainer({
  id: 'integrated-gradients',
  name: 'Integrated Gradients',
  family: 'gradient',
  kind: 'gradient',
  description: 'Accumulates gradients along the straight path from a baseline image to the input; the attributions add up to the score difference.',
  paper: {
    title: 'Axiomatic Attribution for Deep Networks',
    authors: 'Sundararajan, Taly, Yan',
    year: 2017,
    url: 'https://arxiv.org/abs/1703.01365',
  },
  requires: { gradients: true },
  options: {
    steps: opt.integer({ default: 50, min: 1, max: 2000, description: 'Points on the integration path.' }),
    rule: opt.choice({ default: 'gauss-legendre', choices: RULES, description: 'Integration rule (Captum\'s default: Gauss-Legendre).' }),
    baseline: opt.choiceOrValue({ default: 'zeros', choices: BASELINES, description: 'The reference image the path starts from.' }),
    batchSize: opt.integer({ default: 64, min: 1, max: 8192, description: 'Path points per forward/backward pass.' }),
    seed: opt.integer({ default: 0, min: 0, description: 'Seed for the uniform baseline.' }),
  },
  async explain(x, ctx, o) {
    if (o.rule === 'riemann-trapezoid' && o.steps < 2) {
      throw new CnnXaiError('BAD_OPTION_VALUE', 'The trapezoid rule needs steps >= 2.', 'Use steps >= 2 or another rule.');
    }
    const { alphas, weights } = quadrature(o.rule, o.steps);
    const n = x.shape[0];
    const steps = o.steps;
    const baseline = makeBaseline(x, o.baseline, { random: ctx.random });
    const diff = tf.sub(x, baseline);
    const total = n * steps;
    let acc: tf.Tensor2D = tf.zeros([n, x.size / n]);
    try {
      for (const [s, e] of batchRanges(total, o.batchSize)) {
        ctx.throwIfAborted();
        const rows = Array.from({ length: e - s }, (_, i) => Math.floor((s + i) / steps));
        const ks = Array.from({ length: e - s }, (_, i) => (s + i) % steps);
        const points = tf.tidy(() => {
          const idx = tf.tensor1d(rows, 'int32');
          const a = tf.tensor4d(ks.map((k) => alphas[k] as number), [e - s, 1, 1, 1]);
          return tf.add(tf.gather(baseline, idx), tf.mul(a, tf.gather(diff, idx))) as tf.Tensor4D;
        });
        let g: tf.Tensor;
        try {
          g = await ctx.inputGradient(points, rows);
        } finally {
          points.dispose();
        }
        const next = tf.tidy(() => {
          // Weighted sum of each image's path gradients as one matmul: S[i, r] = w_k(r) if row r is image i.
          const sel = new Float32Array(n * (e - s));
          rows.forEach((img, r) => (sel[img * (e - s) + r] = weights[ks[r] as number] as number));
          const contrib = tf.matMul(tf.tensor2d(sel, [n, e - s]), tf.reshape(g, [e - s, -1]));
          return tf.add(acc, contrib) as tf.Tensor2D;
        });
        g.dispose();
        acc.dispose();
        acc = next;
        ctx.progress(e / total);
        await yieldToEventLoop();
      }
      const values = tf.mul(diff, tf.reshape(acc, x.shape));
      const both = tf.concat([x, baseline], 0);
      let out: tf.Tensor;
      try {
        out = await ctx.model.predict(both);
      } finally {
        both.dispose();
      }
      const { delta, scoreDiff } = tf.tidy(() => {
        const rows = [...Array(n).keys(), ...Array(n).keys()];
        const sc = ctx.target.score(out, rows);
        const fx = tf.slice(sc, 0, n);
        const fb = tf.slice(sc, n, n);
        const sd = tf.sub(fx, fb);
        return { delta: tf.sub(tf.sum(tf.reshape(values, [n, -1]), 1), sd), scoreDiff: sd };
      });
      out.dispose();
      const extras = {
        delta: Array.from(await delta.data()),
        scoreDifference: Array.from(await scoreDiff.data()),
        steps,
        rule: o.rule,
      };
      delta.dispose();
      scoreDiff.dispose();
      return { values, signed: true, extras };
    } finally {
      acc.dispose();
      baseline.dispose();
      diff.dispose();
    }
  },
});

import * as tf from '@tensorflow/tfjs-core';
import type { LayersModel } from '@tensorflow/tfjs-layers';
import { beforeAll, describe, expect, it } from 'vitest';
import { blackBox, createRegistry, defineExplainer, isCnnXaiError, selectBackend } from '@cnn-xai/core';
import { loadModel } from '@cnn-xai/core/node';
import { fixtures, readReference } from '@cnn-xai/fixtures';
import { gradient, gradientXInput } from '@cnn-xai/plugin-gradient';
import { countTensors } from '@cnn-xai/testing';
import { applicableMetrics, evaluate } from './evaluate.js';
import { reportMarkdown } from './markdown.js';
import { getMetric, METRICS } from './metrics.js';

const broken = defineExplainer({
  id: 'broken',
  name: 'Broken',
  family: 'test',
  kind: 'gradient',
  description: 'Always fails.',
  requires: { gradients: false },
  options: {},
  async explain() {
    throw new Error('this explainer always fails');
  },
});

const registry = createRegistry().register(gradient, gradientXInput, broken);

describe('evaluate(): every method against every metric', () => {
  let model: LayersModel;
  let x: tf.Tensor4D;
  beforeAll(async () => {
    await selectBackend('wasm');
    model = await loadModel(fixtures.fashionCnn);
    x = tf.tensor4d(readReference('images').data.slice(0, 2 * 784), [2, 28, 28, 1]);
  });

  it('knows its metrics and aliases; an unknown id lists them', () => {
    expect(METRICS.map((m) => m.id)).toEqual([
      'deletion',
      'insertion',
      'average-drop',
      'increase-in-confidence',
      'pointing-game',
      'energy-pointing-game',
      'bbox',
      'miou',
      'infidelity',
      'max-sensitivity',
      'sanity-cascading',
      'sanity-independent',
    ]);
    expect(getMetric('ebpg').id).toBe('energy-pointing-game');
    let err: unknown;
    try {
      getMetric('auc');
    } catch (e) {
      err = e;
    }
    expect(isCnnXaiError(err)).toBe(true);
    expect((err as Error).message).toMatch(/deletion, insertion/);
    expect(applicableMetrics({}).some((m) => m.kind === 'localisation')).toBe(false);
    expect(applicableMetrics({ groundTruth: { boxes: [] } }).some((m) => m.id === 'bbox')).toBe(true);
    const box = blackBox((b) => tf.zeros([b.shape[0], 2]), { inputShape: [28, 28, 1] });
    expect(applicableMetrics({ model: box }).some((m) => m.kind === 'sanity')).toBe(false);
  });

  it('writes a JSON-ready report, records a failing method, and leaks no tensors', async () => {
    const masks = tf.tidy(() => tf.cast(tf.greater(tf.reshape(x, [2, 28, 28]), 0.3), 'float32'));
    const before = countTensors();
    const report = await evaluate({
      model,
      input: x,
      methods: ['gradient', gradientXInput, 'broken'],
      metrics: ['deletion', 'insertion', 'average-drop', 'increase', 'pointing-game', 'ebpg', 'infidelity', 'max-sensitivity', 'sanity-cascading'],
      groundTruth: { masks },
      metricOptions: { 'max-sensitivity': { samples: 2 }, 'sanity-cascading': { layers: 'logits' }, deletion: { step: 28 } },
      imageLimits: { 'max-sensitivity': 1, 'pointing-game': 1 },
      registry,
      seed: 1,
      meta: { model: 'fashion-cnn' },
    });
    expect(countTensors()).toBe(before);
    masks.dispose();
    const json = JSON.parse(JSON.stringify(report)) as typeof report;
    expect(json.schema).toBe('cnn-xai/evaluation@1');
    expect(json.images).toBe(2);
    expect(json.classes).toHaveLength(2);
    expect(json.metrics.map((m) => m.id)).toContain('energy-pointing-game');
    expect(json.metrics.find((m) => m.id === 'deletion')?.options['step']).toBe(28);
    const g = json.methods.find((m) => m.id === 'gradient');
    expect(g?.explainMs).toBeGreaterThan(0);
    for (const id of ['deletion', 'insertion', 'average-drop', 'increase-in-confidence', 'pointing-game', 'energy-pointing-game', 'infidelity', 'max-sensitivity', 'sanity-cascading']) {
      const e = g?.metrics[id];
      expect(e?.error, id).toBeUndefined();
      expect(typeof e?.value, id).toBe('number');
      const limited = id === 'max-sensitivity' || id === 'pointing-game';
      expect(e?.perImage, id).toHaveLength(limited ? 1 : 2);
      expect(e?.images, id).toBe(limited ? 1 : undefined);
    }
    expect((g?.metrics['deletion']?.details?.['meanCurve'] as number[]).length).toBe(29);
    expect(g?.metrics['sanity-cascading']?.details?.['flagged']).toBe(false);
    const b = json.methods.find((m) => m.id === 'broken');
    expect(b?.error).toMatch(/always fails/);
    const md = reportMarkdown(report);
    expect(md).toMatch(/\| method \| Deletion AUC ↓ \| Insertion AUC ↑ \| Average Drop \(%\) ↓ \| Increase in Confidence \(%\) ↑ \|/);
    expect(md).toMatch(/step=28/);
    expect(md).toMatch(/`gradient-x-input`/);
    expect(md).toMatch(/`broken`: this explainer always fails/);
  });

  it('skips ground-truth metrics without ground truth unless asked; metric options are checked', async () => {
    const report = await evaluate({ model, input: x, methods: ['gradient'], metrics: ['deletion', 'bbox'], registry, metricOptions: { deletion: { step: 98 } } });
    expect(report.methods[0]?.metrics['bbox']?.skipped).toMatch(/no ground-truth/);
    const err = await evaluate({ model, input: x, methods: ['gradient'], metrics: ['deletion'], registry, metricOptions: { deletion: { steps: 3 } } }).catch((e: unknown) => e);
    expect(isCnnXaiError(err, 'UNKNOWN_OPTION')).toBe(true);
    const err2 = await evaluate({ model, input: x, methods: ['gradient'], metrics: ['deletion'], registry, metricOptions: { insertion: {} } }).catch((e: unknown) => e);
    expect(isCnnXaiError(err2, 'UNKNOWN_OPTION')).toBe(true);
  });
});

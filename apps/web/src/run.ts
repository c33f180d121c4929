/** Running explainers and the model from the page: timing, targets, predictions. */
import { explain, type AnyExplainer, type Target } from '@cnn-xai/core';
import * as tf from '@tensorflow/tfjs-core';
import type { LoadedModel } from './models.js';
import { registry } from './plugins.js';
import { readMap, type MapData } from './render.js';

export interface Prediction {
  logits: Float32Array;
  probs: Float32Array;
  top: number;
}

export async function predict(m: LoadedModel, input: tf.Tensor4D): Promise<Prediction> {
  const [logits, probs] = tf.tidy(() => {
    const out = m.tap.predict(input) as tf.Tensor2D;
    return [out, tf.softmax(out)];
  });
  const [l, p] = (await Promise.all([logits.data(), probs.data()])) as [Float32Array, Float32Array];
  tf.dispose([logits, probs]);
  let top = 0;
  for (let i = 1; i < l.length; i++) if ((l[i] as number) > (l[top] as number)) top = i;
  return { logits: l, probs: p, top };
}

export interface RunResult {
  map: MapData;
  /** Wall time of explain() plus reading the map back, ms. */
  ms: number;
  /** The class explained. */
  target: number | null;
  extras: Record<string, unknown>;
}

/** Scalar and short-array extras worth showing (IG's delta, LIME's fit, ...). */
function plainExtras(extras: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(extras)) {
    if (typeof v === 'number' || typeof v === 'string' || typeof v === 'boolean') out[k] = v;
    else if (Array.isArray(v) && v.length <= 4 && v.every((x) => typeof x === 'number')) out[k] = v;
  }
  return out;
}

export async function runExplainer(
  m: LoadedModel,
  ex: AnyExplainer,
  input: tf.Tensor4D,
  target: Target,
  options: Record<string, unknown>,
  signal?: AbortSignal,
  onProgress?: (f: number) => void,
): Promise<RunResult> {
  const t0 = performance.now();
  const attr = await explain(ex, { model: m.tap, input, target, options, signal, onProgress, registry });
  try {
    const map = await readMap(attr, ex.kind === 'visualization' && attr.values.rank === 4);
    return { map, ms: performance.now() - t0, target: attr.target?.[0] ?? null, extras: plainExtras(attr.extras) };
  } finally {
    attr.dispose();
  }
}

/** Resolves which registered explainers a page asks for and which it asked for in vain. */
export function selectExplainers(sel: { ids?: string[]; families?: string[]; exclude?: string[]; all?: boolean }): {
  available: AnyExplainer[];
  missing: string[];
} {
  const ids = sel.ids ?? [];
  const families = sel.families ?? [];
  const exclude = new Set(sel.exclude ?? []);
  const available = registry
    .list()
    .filter((e) => !exclude.has(e.id) && (sel.all || ids.includes(e.id) || families.includes(e.family)));
  // Keep the page's order for ids it named.
  available.sort((a, b) => rank(a.id, ids) - rank(b.id, ids));
  const missing = [
    ...ids.filter((id) => !registry.has(id)),
    ...families.filter((f) => registry.list({ family: f }).length === 0).map((f) => `the ${f} family`),
  ];
  return { available, missing };
}

function rank(id: string, ids: string[]): number {
  const i = ids.indexOf(id);
  return i < 0 ? ids.length : i;
}

/**
 * Deletion and insertion curves (Petsiuk et al., RISE, 2018) for the evaluation chapter, computed
 * by @cnn-xai/metrics: remove (or insert) pixels in the order the map ranks them and watch the
 * class probability. A good map makes deletion fall fast (small area under the curve) and
 * insertion rise fast (large area).
 */
import { deletion, insertion, type MetricResult } from '@cnn-xai/metrics';
import * as tf from '@tensorflow/tfjs-core';
import { h } from './dom.js';
import type { LoadedModel } from './models.js';
import type { MapData } from './render.js';

export interface Curves {
  fractions: number[];
  deletion: number[];
  insertion: number[];
  deletionAuc: number;
  insertionAuc: number;
}

/** Deletion (pixels set to zeros) and insertion (from the blurred image) curves from @cnn-xai/metrics. */
export async function deletionInsertion(m: LoadedModel, input: tf.Tensor4D, map: MapData, target: number, signal?: AbortSignal): Promise<Curves> {
  const [, hgt, wid] = input.shape;
  if (map.values.length !== hgt * wid) throw new Error('the map is not at input resolution');
  const attribution = tf.tensor3d(map.values, [1, hgt, wid]);
  try {
    const options = { step: Math.ceil((hgt * wid) / 32) };
    const del = await deletion({ model: m.tap, input, attribution, target, options, signal });
    const ins = await insertion({ model: m.tap, input, attribution, target, options, signal });
    const curve = (r: MetricResult): number[] => ((r.details?.['curves'] as number[][] | undefined)?.[0] ?? []).slice();
    const d = curve(del);
    return {
      fractions: d.map((_, k) => Math.min(1, (k * options.step) / (hgt * wid))),
      deletion: d,
      insertion: curve(ins),
      deletionAuc: del.value,
      insertionAuc: ins.value,
    };
  } finally {
    attribution.dispose();
  }
}

/** Draws both curves as an SVG plot with their areas. */
export function drawCurves(el: HTMLElement, c: Curves, className: string): void {
  const W = 280;
  const H = 160;
  const pad = 24;
  const pt = (f: number, p: number): string => `${(pad + f * (W - pad - 6)).toFixed(1)},${(H - pad - p * (H - pad - 6)).toFixed(1)}`;
  const line = (ys: number[]): string => ys.map((y, i) => pt(c.fractions[i] as number, y)).join(' ');
  const ns = 'http://www.w3.org/2000/svg';
  const svg = document.createElementNS(ns, 'svg');
  svg.setAttribute('viewBox', `0 0 ${W} ${H}`);
  svg.setAttribute('class', 'xai-curve-plot');
  svg.setAttribute('role', 'img');
  svg.setAttribute('aria-label', `Deletion and insertion curves for ${className}`);
  svg.innerHTML =
    `<line x1="${pad}" y1="${H - pad}" x2="${W - 6}" y2="${H - pad}" stroke="currentColor"/>` +
    `<line x1="${pad}" y1="6" x2="${pad}" y2="${H - pad}" stroke="currentColor"/>` +
    `<text x="${pad}" y="${H - 6}" font-size="10">0%</text><text x="${W - 6}" y="${H - 6}" font-size="10" text-anchor="end">100% of pixels</text>` +
    `<text x="2" y="14" font-size="10">p=1</text>` +
    `<polyline fill="none" stroke="#d62728" stroke-width="2" points="${line(c.deletion)}"/>` +
    `<polyline fill="none" stroke="#1f77b4" stroke-width="2" points="${line(c.insertion)}"/>`;
  el.replaceChildren(
    h('figure', {}, svg, h('figcaption', {}, h('span', { style: 'color:#d62728' }, `deletion AUC ${c.deletionAuc.toFixed(3)} (lower is better)`), ' · ', h('span', { style: 'color:#1f77b4' }, `insertion AUC ${c.insertionAuc.toFixed(3)} (higher is better)`), ` · p(${className}); deletion sets pixels to 0, insertion starts from the blurred image`)),
  );
}

import * as tf from '@tensorflow/tfjs-core';
import { classScores, CnnXaiError, type LayerInfo, type ModelTap, type ResolvedTarget } from '@cnn-xai/core';

/*
 * Feature-visualization objectives (Olah et al. 2017; Lucid `optvis/objectives.py`), each a
 * score per image that the optimiser maximises:
 *
 *   channel    mean over positions of one channel of a layer            A[n, :, :, c].mean()
 *   neuron     one channel at one position (default: the centre)        A[n, y, x, c]
 *   class      a logit (default: the explained target of each image)    logits[n, c]
 *   layer      DeepDream: mean of the squared activations of a layer    mean(A[n]^2)
 *   diversity  batch term: minus the summed cosine similarity of the images' Gram matrices at a
 *              layer, over ordered pairs, divided by N (Lucid's `diversity`); zero for one image
 *
 * A visualisation maximises sum_i weight_i * objective_i. For 2-D layers (dense units),
 * `channel` and `neuron` are the unit itself.
 */

export const OBJECTIVE_TYPES = ['channel', 'neuron', 'class', 'layer', 'diversity'] as const;
export type ObjectiveType = (typeof OBJECTIVE_TYPES)[number];

/** One weighted term of a feature-visualization objective (the API form of the `objectives` option). */
export interface ObjectiveSpec {
  type: ObjectiveType;
  /** channel, neuron, layer, diversity: the layer (default: the `layer` option, else the last layer with a 4-D output). */
  layer?: string;
  /** channel, neuron: the channel (default: the `channel` option). class: the class index (default: the explained target). */
  channel?: number;
  /** neuron: [row, column] at the layer's resolution (default: the centre, floor(h/2), floor(w/2)). */
  position?: readonly [number, number];
  /** Default 1. Negative weights minimise the term. */
  weight?: number;
}

const SYNTAX =
  'Write terms as type[:layer][:channel][@row,col][*weight], separated by commas, e.g. "channel:conv5:3*1,class:2*0.5", ' +
  `"neuron:conv5:3@3,3", "layer:conv4*0.1", "diversity:conv4*10"; types: ${OBJECTIVE_TYPES.join(', ')}.`;

function bad(message: string): never {
  throw new CnnXaiError('BAD_OPTION_VALUE', message, SYNTAX);
}

const INT = /^-?\d+$/;
const NUM = /^[-+]?(\d+\.?\d*|\.\d+)(e[-+]?\d+)?$/i;

/**
 * Parses the compact objective string of the `objectives` option (the CLI form):
 * `type[:layer][:channel][@row,col][*weight]`, comma-separated. For `channel`/`neuron` a single
 * integer part is the channel (of the default layer); for `class` the part is the class index;
 * for `layer`/`diversity` it is the layer. An empty string gives an empty list.
 */
export function parseObjectives(text: string): ObjectiveSpec[] {
  const raw = text
    .split(',')
    .map((t) => t.trim())
    .filter((t) => t.length > 0);
  // "@3,4" splits into "...@3" and "4...": a token that starts with a digit continues the previous one.
  const terms: string[] = [];
  for (const t of raw) {
    const prev = terms[terms.length - 1];
    if (/^\d/.test(t) && prev !== undefined && /@-?\d+$/.test(prev)) terms[terms.length - 1] = `${prev},${t}`;
    else terms.push(t);
  }
  return terms.map((term) => {
    let body = term;
    let weight = 1;
    const star = body.lastIndexOf('*');
    if (star >= 0) {
      const w = body.slice(star + 1).trim();
      if (!NUM.test(w)) bad(`Objective "${term}": the weight "${w}" is not a number.`);
      weight = Number(w);
      body = body.slice(0, star);
    }
    let position: [number, number] | undefined;
    const at = body.indexOf('@');
    if (at >= 0) {
      const p = body
        .slice(at + 1)
        .split(',')
        .map((s) => s.trim());
      if (p.length !== 2 || !p.every((s) => INT.test(s))) bad(`Objective "${term}": the position must be @row,col (integers).`);
      position = [Number(p[0]), Number(p[1])];
      body = body.slice(0, at);
    }
    const parts = body.split(':').map((s) => s.trim());
    const type = parts[0] as ObjectiveType;
    if (!(OBJECTIVE_TYPES as readonly string[]).includes(type)) bad(`Objective "${term}": unknown type "${parts[0]}".`);
    const rest = parts.slice(1);
    if (rest.some((s) => s === '')) bad(`Objective "${term}" has an empty part.`);
    const spec: ObjectiveSpec = { type, weight };
    if (type === 'channel' || type === 'neuron') {
      if (rest.length > 2) bad(`Objective "${term}" has too many parts.`);
      if (rest.length === 2) {
        spec.layer = rest[0] as string;
        if (!INT.test(rest[1] as string)) bad(`Objective "${term}": the channel "${rest[1]}" is not an integer.`);
        spec.channel = Number(rest[1]);
      } else if (rest.length === 1) {
        if (INT.test(rest[0] as string)) spec.channel = Number(rest[0]);
        else spec.layer = rest[0] as string;
      }
    } else if (type === 'class') {
      if (rest.length > 1) bad(`Objective "${term}" has too many parts.`);
      if (rest.length === 1) {
        if (!INT.test(rest[0] as string)) bad(`Objective "${term}": the class "${rest[0]}" is not an integer.`);
        spec.channel = Number(rest[0]);
      }
    } else {
      if (rest.length > 1) bad(`Objective "${term}" has too many parts.`);
      if (rest.length === 1) spec.layer = rest[0] as string;
    }
    if (position) {
      if (type !== 'neuron') bad(`Objective "${term}": only neuron objectives take a position.`);
      spec.position = position;
    }
    return spec;
  });
}

/** The compact string of a list of objectives (inverse of parseObjectives). */
export function formatObjectives(specs: readonly ObjectiveSpec[]): string {
  return specs
    .map((s) => {
      let t: string = s.type;
      if (s.layer !== undefined && s.type !== 'class') t += `:${s.layer}`;
      if (s.channel !== undefined && s.type !== 'layer' && s.type !== 'diversity') t += `:${s.channel}`;
      if (s.position && s.type === 'neuron') t += `@${s.position[0]},${s.position[1]}`;
      if (s.weight !== undefined && s.weight !== 1) t += `*${s.weight}`;
      return t;
    })
    .join(',');
}

/** An objective term with its layer resolved and checked against the model. */
export interface ResolvedObjective {
  type: ObjectiveType;
  /** null for class terms (they read the output). */
  layer: LayerInfo | null;
  channel: number | null;
  position: [number, number] | null;
  weight: number;
}

export interface ResolveDefaults {
  /** The layer of terms without one. */
  layer: () => LayerInfo;
  /** The channel of channel/neuron terms without one. */
  channel: number;
  numClasses: number | null;
}

function spatial(info: LayerInfo, what: string): void {
  if (info.outputShape.length !== 4) {
    throw new CnnXaiError(
      'NO_CONV_LAYER',
      `The ${what} objective needs feature maps, but layer "${info.name}" (${info.className}) has output shape [${info.outputShape.map((d) => d ?? 'N').join(', ')}].`,
      'Pick a layer with a 4-D output.',
    );
  }
}

/** Checks every term against the model (layers exist, channels and positions are in range). */
export function resolveObjectives(tap: ModelTap, specs: readonly ObjectiveSpec[], d: ResolveDefaults): ResolvedObjective[] {
  if (specs.length === 0) bad('The objective list is empty.');
  return specs.map((s) => {
    if (!(OBJECTIVE_TYPES as readonly string[]).includes(s.type)) bad(`Unknown objective type "${String(s.type)}".`);
    const weight = s.weight ?? 1;
    if (!Number.isFinite(weight)) bad(`Objective ${s.type}: the weight ${String(s.weight)} is not a finite number.`);
    if (s.type === 'class') {
      const c = s.channel ?? null;
      if (c !== null && (!Number.isInteger(c) || c < 0 || (d.numClasses !== null && c >= d.numClasses))) {
        bad(`Objective class:${c}: the model has ${d.numClasses ?? '?'} classes.`);
      }
      return { type: s.type, layer: null, channel: c, position: null, weight };
    }
    const layer = s.layer !== undefined ? tap.layer(s.layer) : d.layer();
    if (layer.index === 0) bad(`Objective ${s.type}: "${layer.name}" is the input, not a layer.`);
    const rank = layer.outputShape.length;
    if (s.type === 'diversity') spatial(layer, 'diversity');
    let channel: number | null = null;
    let position: [number, number] | null = null;
    if (s.type === 'channel' || s.type === 'neuron') {
      if (rank !== 4 && rank !== 2) spatial(layer, s.type);
      channel = s.channel ?? d.channel;
      const k = layer.outputShape[rank - 1];
      if (!Number.isInteger(channel) || channel < 0 || (typeof k === 'number' && channel >= k)) {
        bad(`Objective ${s.type}:${layer.name}:${channel}: layer "${layer.name}" has ${k} channels (0..${(k ?? 1) - 1}).`);
      }
      if (s.type === 'neuron' && rank === 4) {
        const h = layer.outputShape[1] as number;
        const w = layer.outputShape[2] as number;
        position = s.position ? [s.position[0], s.position[1]] : [Math.floor(h / 2), Math.floor(w / 2)];
        const [py, px] = position;
        if (!Number.isInteger(py) || !Number.isInteger(px) || py < 0 || px < 0 || py >= h || px >= w) {
          bad(`Objective neuron:${layer.name}:${channel}@${py},${px}: the layer's maps are ${h}x${w}.`);
        }
      }
    }
    return { type: s.type, layer, channel, position, weight };
  });
}

/** The layers whose activations the objectives read. */
export function objectiveLayers(objs: readonly ResolvedObjective[]): string[] {
  return [...new Set(objs.filter((o) => o.layer).map((o) => (o.layer as LayerInfo).name))];
}

/**
 * Lucid's diversity: Gram matrices G_n = F_n^T F_n of the layer's maps F_n [hw, C], each divided by
 * its Frobenius norm; returns -sum_{i != j} <G_i, G_j> / N (0 for N = 1).
 */
export function diversity(a: tf.Tensor): tf.Scalar {
  return tf.tidy(() => {
    const [n, h, w, c] = a.shape as [number, number, number, number];
    if (n < 2) return tf.scalar(0);
    const f = tf.reshape(a, [n, h * w, c]);
    const grams = tf.matMul(f, f, true, false); // [N, C, C]
    const norm = tf.sqrt(tf.maximum(tf.sum(tf.square(grams), [1, 2], true), 1e-20));
    const g = tf.reshape(tf.div(grams, norm), [n, c * c]);
    const sims = tf.matMul(g, g, false, true); // [N, N]: <G_i, G_j>
    const offDiagonal = tf.sub(tf.sum(sims), tf.sum(tf.mul(sims, tf.eye(n))));
    return tf.div(tf.neg(offDiagonal), n) as tf.Scalar;
  });
}

/**
 * The weighted per-image objective [N] (channel, neuron, class and layer terms) and the weighted
 * batch term (diversity) of one forward pass. `rows[i]` is the input row whose target image i
 * uses for class terms without a class.
 */
export function evaluateObjectives(
  objs: readonly ResolvedObjective[],
  activations: Record<string, tf.Tensor>,
  output: tf.Tensor,
  target: ResolvedTarget,
  rows: readonly number[],
): { perImage: tf.Tensor1D; batch: tf.Scalar } {
  return tf.tidy(() => {
    const n = output.shape[0] as number;
    let perImage: tf.Tensor = tf.zeros([n]);
    let batch: tf.Tensor = tf.scalar(0);
    for (const o of objs) {
      let term: tf.Tensor;
      if (o.type === 'class') {
        term = o.channel === null ? target.score(output, rows) : classScores(output, new Array<number>(n).fill(o.channel));
      } else {
        const a = activations[(o.layer as LayerInfo).name] as tf.Tensor;
        if (o.type === 'diversity') {
          batch = tf.add(batch, tf.mul(diversity(a), o.weight));
          continue;
        }
        if (o.type === 'layer') {
          term = tf.mean(tf.reshape(tf.square(a), [n, -1]), 1);
        } else if (a.rank === 2) {
          term = tf.reshape(tf.slice(a, [0, o.channel as number], [n, 1]), [n]);
        } else if (o.type === 'channel') {
          term = tf.mean(tf.reshape(tf.slice(a, [0, 0, 0, o.channel as number], [-1, -1, -1, 1]), [n, -1]), 1);
        } else {
          const [py, px] = o.position as [number, number];
          term = tf.reshape(tf.slice(a, [0, py, px, o.channel as number], [n, 1, 1, 1]), [n]);
        }
      }
      perImage = tf.add(perImage, tf.mul(term, o.weight));
    }
    return { perImage: perImage as tf.Tensor1D, batch: batch as tf.Scalar };
  });
}

import * as tf from '@tensorflow/tfjs-core';
import {
  batchRanges,
  CnnXaiError,
  defineExplainer,
  opt,
  resizeBilinear,
  yieldToEventLoop,
  type LayerInfo,
  type ModelTap,
} from '@cnn-xai/core';

/*
 * Spatial attention gates built from standard layers: a layer g with a 4-D output of spatial size
 * > 1 x 1 and a gating activation (sigmoid, hard sigmoid), whose output a Multiply layer multiplies
 * into 4-D features f: out = f * g (g broadcast over channels when it has one). This is the
 * structure of CBAM's spatial attention, attention U-Net gates and our attention-cnn fixture, and
 * it loads in any tf.js / Keras without custom layer classes. Channel attention (squeeze-and-
 * excitation: a [N, 1, 1, C] or [N, C] gate) is not spatial and is not matched.
 */

const listNames = (names: string[], max = 40): string =>
  names.length <= max ? names.join(', ') : `${names.slice(0, max).join(', ')} … and ${names.length - max} more`;

const GATE_ACTIVATIONS = new Set(['sigmoid', 'hard_sigmoid', 'hardSigmoid']);

/** A gate, the Multiply layer(s) it feeds and the features they multiply. */
export interface AttentionGate {
  gate: LayerInfo;
  /** Multiply layers that read the gate. */
  gated: LayerInfo[];
  /** The other inputs of those Multiply layers (the gated features). */
  features: LayerInfo[];
}

function isSpatial(l: LayerInfo): boolean {
  if (l.index === 0 || l.outputShape.length !== 4) return false;
  const [, h, w] = l.outputShape;
  return !(h === 1 && w === 1);
}

/** The gate structure around `layer`, if its output is multiplied into other 4-D features. */
function gateOf(tap: ModelTap, layer: LayerInfo): AttentionGate | null {
  if (!isSpatial(layer)) return null;
  const gated = tap.outbound(layer.name).filter((l) => l.className === 'Multiply' && l.inbound.length >= 2);
  const features = gated.flatMap((mul) =>
    mul.inbound.filter((name) => name !== layer.name).map((name) => tap.layer(name)),
  );
  if (gated.length === 0 || !features.some((f) => f.outputShape.length === 4)) return null;
  return { gate: layer, gated, features };
}

/**
 * Every spatial attention gate of the model, in execution order: a layer with a sigmoid-like
 * activation and a 4-D output larger than 1 x 1 that a Multiply layer multiplies into 4-D features.
 */
export function findAttentionGates(tap: ModelTap): AttentionGate[] {
  return tap.layers
    .filter((l) => GATE_ACTIVATIONS.has(l.activation))
    .map((l) => gateOf(tap, l))
    .filter((g): g is AttentionGate => g !== null);
}

/**
 * The gate to explain: the `layer` option (the gate itself, or the Multiply layer that applies
 * it), else the last gate of the model. Errors: UNKNOWN_LAYER (no such layer), UNSUPPORTED_LAYER
 * (the named layer is not a gate), UNSUPPORTED_MODEL (the model has no gate).
 */
export function attentionGate(tap: ModelTap, layer: string | string[] | undefined): AttentionGate {
  if (Array.isArray(layer)) throw new CnnXaiError('BAD_OPTION_VALUE', 'attention takes a single layer.', 'Pass the name of one gate.');
  const gates = findAttentionGates(tap);
  if (layer !== undefined) {
    const info = tap.layer(layer);
    const isFeatures = gates.some((g) => g.features.some((f) => f.name === layer));
    const found =
      gates.find((g) => g.gate.name === layer) ??
      gates.find((g) => g.gated.some((m) => m.name === layer)) ??
      // A named single-channel map multiplied into features counts as a gate whatever its activation
      // (the features a detected gate multiplies do not).
      (!isFeatures && info.outputShape[3] === 1 ? gateOf(tap, info) : null);
    if (found) return found;
    throw new CnnXaiError(
      'UNSUPPORTED_LAYER',
      isFeatures
        ? `Layer "${layer}" (${info.className}) is what an attention gate multiplies, not the gate.`
        : `Layer "${layer}" (${info.className}) is not a spatial attention gate: no Multiply layer multiplies its single-channel 4-D output into feature maps.`,
      gates.length ? `The model's gates: ${gates.map((g) => g.gate.name).join(', ')}.` : 'This model has no attention gate.',
    );
  }
  const last = gates[gates.length - 1];
  if (!last) {
    throw new CnnXaiError(
      'UNSUPPORTED_MODEL',
      'The model has no spatial attention gate: no layer with a sigmoid activation and a 4-D output is multiplied (Multiply layer) into feature maps.',
      `Use a model with such a gate, or name the gate with the layer option. The model's layers: ${listNames(tap.layers.map((l) => `${l.name} (${l.className}${l.activation !== 'linear' ? `, ${l.activation}` : ''})`))}.`,
    );
  }
  return last;
}

export const attention = defineExplainer({
  id: 'attention',
  name: 'Attention maps',
  family: 'visualization',
  kind: 'cam',
  description:
    "The spatial attention gate a model multiplies its features by (a sigmoid map g with out = features * g), upsampled to the input: where the model looks, read from the model itself rather than estimated. [N, H, W], unsigned; a gate with several channels is averaged over them. The gate at layer resolution is extras.layerMap.",
  requires: { gradients: false, layer: 'conv' },
  options: {
    layer: opt.layer({
      default: undefined,
      description:
        'The gate (or the Multiply layer that applies it); default: the last spatial attention gate found in the model. A named single-channel layer multiplied into features counts as a gate whatever its activation.',
    }),
    batchSize: opt.integer({ default: 32, min: 1, max: 4096, description: 'Images per forward pass.' }),
  },
  async explain(x, ctx, o) {
    const tap = ctx.tap;
    const gate = attentionGate(tap, o.layer);
    const [n, h, w] = x.shape;
    const ups: tf.Tensor[] = [];
    const raws: tf.Tensor[] = [];
    try {
      for (const [s, e] of batchRanges(n, o.batchSize)) {
        ctx.throwIfAborted();
        const raw = tf.tidy(() => {
          const xb = tf.slice(x, [s, 0, 0, 0], [e - s, -1, -1, -1]);
          const g = tap.activations(xb, [gate.gate.name])[gate.gate.name] as tf.Tensor4D;
          return g.shape[3] === 1 ? tf.squeeze(g, [3]) : tf.mean(g, 3);
        });
        raws.push(raw);
        ups.push(resizeBilinear(raw, [h, w]));
        ctx.progress(e / n);
        await yieldToEventLoop();
      }
      const values = ups.length === 1 ? (ups[0] as tf.Tensor) : tf.concat(ups, 0);
      const layerMap = raws.length === 1 ? (raws[0] as tf.Tensor) : tf.concat(raws, 0);
      if (values !== ups[0]) tf.dispose(ups);
      if (layerMap !== raws[0]) tf.dispose(raws);
      const lowest = tf.min(layerMap);
      const signed = ((await lowest.data())[0] as number) < 0;
      lowest.dispose();
      return {
        values,
        signed,
        layer: gate.gate.name,
        extras: {
          layerMap,
          gates: findAttentionGates(tap).map((g) => g.gate.name),
          gated: gate.gated.map((m) => m.name),
          features: gate.features.map((f) => f.name),
        },
      };
    } catch (err) {
      tf.dispose([...ups, ...raws]);
      throw err;
    }
  },
});

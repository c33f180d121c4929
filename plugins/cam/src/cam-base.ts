import * as tf from '@tensorflow/tfjs-core';
import {
  batchRanges,
  CnnXaiError,
  defineExplainer,
  minMaxScale,
  opt,
  resizeBilinear,
  yieldToEventLoop,
  type AttributionResult,
  type ExplainContext,
  type Explainer,
  type Extra,
  type LayerInfo,
  type ModelTap,
  type OptionsOf,
  type OptionsSchema,
  type PaperRef,
} from '@cnn-xai/core';

/*
 * The CAM family on one pipeline, after pytorch-grad-cam's BaseCAM: for each chosen layer and
 * each batch of images the base computes the layer's activations A [B,h,w,K] (and, for
 * gradient methods, G = d target / dA in the same pass); a variant turns them into weights W;
 * the map at layer resolution is sum_k W_k * A^k; an optional ReLU, bilinear upsampling to the
 * input and, for a list of layers, averaging follow. A variant supplies only its weights (as
 * get_cam_weights does) or, when the map is not a weighted sum of channels (Eigen-CAM), the
 * whole layer map (as get_cam_image does).
 */

/** The options every CAM explainer shares. */
export function camOptions(batchSizeDescription = 'Images per forward/backward pass.') {
  return {
    layer: opt.layer({
      default: undefined,
      multiple: true,
      description:
        "Layer(s) whose feature maps are used (default: the last layer with a 4-D output). With several layers, each layer's map is scaled per image first (to [0, 1] after the ReLU, or by its largest magnitude without it), upsampled, and the maps are averaged.",
    }),
    relu: opt.boolean({ default: true, description: 'Keep only positive evidence (ReLU of the layer map, before upsampling).' }),
    batchSize: opt.integer({ default: 32, min: 1, max: 4096, description: batchSizeDescription }),
  };
}

export type CamOptionsSchema = ReturnType<typeof camOptions>;

/** What a variant's `weights` (or `camImage`) gets for one batch of images at one layer. */
export interface CamWeightArgs<O = OptionsOf<CamOptionsSchema>> {
  /** The batch of images [B,H,W,C]. */
  input: tf.Tensor4D;
  /** The layer's activations [B,h,w,K]. */
  activations: tf.Tensor4D;
  /** d(target score)/d(activations) [B,h,w,K]; null for variants that need no gradients. */
  gradients: tf.Tensor4D | null;
  /** The model's output for the batch (logits unless the tap was built otherwise). */
  output: tf.Tensor;
  /** The target score of each image of the batch [B]. */
  scores: tf.Tensor1D;
  /** rows[b]: the index of batch image b in the whole input (for `ctx.target.score`). */
  rows: readonly number[];
  layer: LayerInfo;
  ctx: ExplainContext;
  options: O;
  /** Reports progress within this batch, in [0, 1] (long variants: Score-CAM, Ablation-CAM). */
  progress(fraction: number): void;
}

/**
 * A variant's weights: [B,K] (one weight per channel, pytorch-grad-cam's get_cam_weights) or
 * [B,h,w,K] (one weight per position and channel: HiResCAM, LayerCAM). The map is
 * sum_k W_k * A^k. The base disposes the returned tensor.
 */
export type CamWeights<O = OptionsOf<CamOptionsSchema>> = (args: CamWeightArgs<O>) => tf.Tensor | Promise<tf.Tensor>;

/** A variant's whole layer map [B,h,w] (pytorch-grad-cam's get_cam_image), e.g. Eigen-CAM. */
export type CamImage<O = OptionsOf<CamOptionsSchema>> = (args: CamWeightArgs<O>) => tf.Tensor | Promise<tf.Tensor>;

/**
 * Per-channel weights from the activations A [B,h,w,K] and the gradients G; returns [B,K].
 * The simple, synchronous form of `CamWeights` (Grad-CAM, Grad-CAM++, XGrad-CAM).
 */
export type ChannelWeights = (activations: tf.Tensor4D, gradients: tf.Tensor4D) => tf.Tensor2D;

export interface CamVariant<E extends OptionsSchema = Record<never, never>> {
  id: string;
  name: string;
  description: string;
  paper: PaperRef;
  /** True when the weights use G (one backward pass per batch and layer). */
  requiresGradients: boolean;
  /** Options of this variant on top of `layer`, `relu` and `batchSize`. */
  extraOptions?: E;
  /** What `batchSize` means for this variant (default: images per forward/backward pass). */
  batchSizeDescription?: string;
  /** The channel (or position) weights; give this or `camImage`. */
  weights?: CamWeights<OptionsOf<CamOptionsSchema & E>>;
  /** The whole layer map, for variants that are not a weighted sum of channels. */
  camImage?: CamImage<OptionsOf<CamOptionsSchema & E>>;
}

/**
 * Computes one layer-resolution map per layer and combines them. One layer: the map (rectified
 * first when `rectifySingle`) upsampled, kept in `extras.layerMap`. A list: each map scaled per
 * image (scaleLayerMap), upsampled and averaged, as pytorch-grad-cam does; the scaled maps are
 * kept in `extras['layerMap:<name>']`.
 */
export async function combineLayerMaps(
  layers: readonly LayerInfo[],
  size: [number, number],
  relu: boolean,
  rectifySingle: boolean,
  extras: Record<string, Extra>,
  compute: (layer: LayerInfo, progress: (f: number) => void) => Promise<tf.Tensor>,
  progress: (f: number) => void,
): Promise<AttributionResult> {
  const count = layers.length;
  let sum: tf.Tensor | null = null;
  try {
    for (const [i, layer] of layers.entries()) {
      const raw = await compute(layer, (f) => progress((i + f) / count));
      if (count === 1) {
        const layerMap = relu && rectifySingle ? tf.relu(raw) : raw;
        if (layerMap !== raw) raw.dispose();
        const values = resizeBilinear(layerMap, size);
        return { values, signed: !relu, layer: layer.name, extras: { ...extras, layerMap } };
      }
      const scaled = scaleLayerMap(raw, relu);
      raw.dispose();
      extras[`layerMap:${layer.name}`] = scaled;
      const up = resizeBilinear(scaled, size);
      const next: tf.Tensor = sum ? tf.add(sum, up) : up;
      if (sum) tf.dispose([sum, up]);
      sum = next;
    }
    const values = tf.div(sum as tf.Tensor, count);
    return { values, signed: !relu, layer: layers.map((l) => l.name), extras };
  } finally {
    sum?.dispose();
  }
}

/**
 * Defines a CAM explainer from its weights: options `layer` (one or a list), `relu` (default
 * true) and `batchSize`, the layer resolution map in `extras.layerMap` (one layer) or
 * `extras['layerMap:<name>']` (a list), values upsampled bilinearly (half-pixel centres) to
 * the input size.
 */
export function createCamExplainer<E extends OptionsSchema = Record<never, never>>(
  variant: CamVariant<E>,
): Explainer<CamOptionsSchema & E> {
  if (!variant.weights === !variant.camImage) {
    throw new CnnXaiError('BAD_OPTION_VALUE', `CAM explainer ${variant.id}: give exactly one of weights and camImage.`);
  }
  const options = { ...camOptions(variant.batchSizeDescription), ...(variant.extraOptions ?? {}) } as CamOptionsSchema & E;
  return defineExplainer<CamOptionsSchema & E>({
    id: variant.id,
    name: variant.name,
    family: 'cam',
    kind: 'cam',
    description: variant.description,
    paper: variant.paper,
    requires: { gradients: variant.requiresGradients, layer: 'conv' },
    options,
    async explain(x, ctx, o) {
      const base = o as unknown as OptionsOf<CamOptionsSchema>;
      const layers = camLayers(ctx.tap, base.layer);
      const size: [number, number] = [x.shape[1], x.shape[2]];
      return combineLayerMaps(layers, size, base.relu, true, {}, (layer, progress) =>
        computeLayerCam(x, ctx, layer, variant, o, progress),
      (f) => ctx.progress(f));
    },
  });
}

/**
 * The scaling of one layer's map before a list of layers is averaged, per image: after the
 * ReLU, min-max to [0, 1] with pytorch-grad-cam's epsilon (its scale_cam_image); without the
 * ReLU, division by the largest magnitude, which keeps the sign and the zero level.
 */
export function scaleLayerMap(map: tf.Tensor, relu: boolean): tf.Tensor {
  return tf.tidy(() => {
    if (relu) return minMaxScale(tf.relu(map));
    const axes = map.shape.map((_, i) => i).slice(1);
    return tf.div(map, tf.add(tf.max(tf.abs(map), axes, true), 1e-7));
  });
}

/**
 * The layers a CAM method uses: the `layer` option (a name or a list of names), or the last
 * layer with a 4-D output. A layer without spatial (4-D) output is an error naming the layers
 * that have one; a name given twice is an error.
 */
export function camLayers(tap: ModelTap, layer: string | string[] | undefined): LayerInfo[] {
  if (layer === undefined) return [tap.lastSpatialLayer()];
  const names = Array.isArray(layer) ? layer : [layer];
  if (names.length === 0) throw new CnnXaiError('BAD_OPTION_VALUE', 'The layer list is empty.', 'Pass at least one layer name.');
  const twice = names.find((n, i) => names.indexOf(n) !== i);
  if (twice !== undefined) {
    throw new CnnXaiError('BAD_OPTION_VALUE', `Layer "${twice}" is listed twice.`, 'List each layer once.');
  }
  return names.map((n) => spatialLayer(tap, n));
}

/**
 * The layer a single-layer CAM method uses: the `layer` option, or the last layer with a 4-D
 * output. A list is an error.
 */
export function camLayer(tap: ModelTap, layer: string | string[] | undefined): LayerInfo {
  if (Array.isArray(layer)) {
    throw new CnnXaiError('BAD_OPTION_VALUE', 'This explainer takes a single layer.', 'Pass one layer name.');
  }
  return camLayers(tap, layer)[0] as LayerInfo;
}

function spatialLayer(tap: ModelTap, name: string): LayerInfo {
  const info = tap.layer(name);
  if (info.outputShape.length !== 4 || info.index === 0) {
    const spatial = tap.spatialLayers().map((l) => l.name);
    throw new CnnXaiError(
      'NO_CONV_LAYER',
      `Layer "${name}" (${info.className}) has no spatial feature maps (output shape [${info.outputShape.map((d) => d ?? 'N').join(', ')}]).`,
      spatial.length ? `Pick a layer with a 4-D output: ${spatial.join(', ')}.` : 'The model has no such layer.',
    );
  }
  return info;
}

/**
 * One layer's map sum_k W_k A^k (or the variant's own map) at layer resolution, [N,h,w],
 * batched over images. Gradient variants take activations and gradients in one
 * forward+backward pass per batch; the others one forward pass.
 */
export async function computeLayerCam<O>(
  x: tf.Tensor4D,
  ctx: ExplainContext,
  layer: LayerInfo,
  variant: Pick<CamVariant, 'requiresGradients'> & { weights?: CamWeights<O>; camImage?: CamImage<O> },
  options: O,
  progress: (fraction: number) => void = (f) => ctx.progress(f),
): Promise<tf.Tensor3D> {
  const n = x.shape[0];
  const batchSize = (options as { batchSize?: number }).batchSize ?? 32;
  const parts: tf.Tensor[] = [];
  let result: tf.Tensor | undefined;
  try {
    for (const [s, e] of batchRanges(n, batchSize)) {
      ctx.throwIfAborted();
      const rows = Array.from({ length: e - s }, (_, i) => s + i);
      const owned: tf.Tensor[] = [];
      try {
        // The whole input when it is one batch (no copy).
        const input = s === 0 && e === n ? x : tf.slice(x, [s, 0, 0, 0], [e - s, -1, -1, -1]);
        if (input !== x) owned.push(input);
        let activations: tf.Tensor4D;
        let gradients: tf.Tensor4D | null = null;
        let output: tf.Tensor;
        let scores: tf.Tensor1D | undefined;
        if (variant.requiresGradients) {
          const r = ctx.tap.gradient(input, (out) => ctx.target.score(out, rows), { layer: layer.name });
          activations = r.activation as tf.Tensor4D;
          gradients = r.gradient as tf.Tensor4D;
          output = r.output;
          scores = r.scores;
          owned.push(activations, gradients, output, scores);
        } else {
          const f = ctx.tap.forward(input, { fetch: [layer.name] });
          activations = f.activations[layer.name] as tf.Tensor4D;
          output = f.output;
          owned.push(activations, output);
        }
        const forwardOutput = output;
        const args: CamWeightArgs<O> = {
          input,
          activations,
          gradients,
          output,
          // Scored on first use: a variant that never reads the scores (Eigen-CAM) pays nothing.
          get scores(): tf.Tensor1D {
            if (!scores) {
              scores = ctx.target.score(forwardOutput, rows);
              owned.push(scores);
            }
            return scores;
          },
          rows,
          layer,
          ctx,
          options,
          progress: (f) => progress((s + Math.min(1, Math.max(0, f)) * (e - s)) / n),
        };
        let map: tf.Tensor;
        if (variant.camImage) {
          map = await variant.camImage(args);
        } else {
          const w = await (variant.weights as CamWeights<O>)(args);
          owned.push(w);
          map = weightedSum(activations, w);
        }
        parts.push(map);
      } finally {
        tf.dispose(owned);
      }
      progress(e / n);
      await yieldToEventLoop();
    }
    result = parts.length === 1 ? (parts[0] as tf.Tensor) : tf.concat(parts, 0);
    return result as tf.Tensor3D;
  } finally {
    parts.forEach((p) => p !== result && p.dispose());
  }
}

/** sum_k W_k * A^k over the channel axis: W is [B,K] (per channel) or [B,h,w,K]. */
export function weightedSum(activations: tf.Tensor4D, weights: tf.Tensor): tf.Tensor3D {
  return tf.tidy(() => {
    const [b, , , k] = activations.shape;
    let w: tf.Tensor;
    if (weights.rank === 2) w = tf.reshape(weights, [b, 1, 1, k]);
    else if (weights.rank === 4) w = weights;
    else throw new CnnXaiError('BAD_OPTION_VALUE', `CAM weights must be [B,K] or [B,h,w,K]; got [${weights.shape.join(', ')}].`);
    return tf.sum(tf.mul(activations, w), 3) as tf.Tensor3D;
  });
}

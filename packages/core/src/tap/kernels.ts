import * as tf from '@tensorflow/tfjs-core';
import type { layers } from '@tensorflow/tfjs-layers';
import { CnnXaiError } from '../errors.js';
import {
  avgPoolExact,
  conv2dFastGrad,
  depthwiseFastGrad,
  flipConvKernel,
  flipDepthwiseKernel,
  maxPoolFirstMax,
  type ConvParams,
  type PoolParams,
} from './grad-ops.js';

type Layer = layers.Layer;
type Config = Record<string, unknown>;

/**
 * How the tap computes one layer: `pre` is the layer's own computation before its activation
 * (null for a pure activation layer), `activation` the activation applied after it. Splitting
 * the two lets a backward override target a conv's linear part and its ReLU separately.
 *
 * Kernels use plain tf ops rather than `layer.apply`: tfjs-layers runs Conv2D as a fused op
 * whose gradient always computes the filter gradient too, a kernel the wasm backend lacks.
 */
export interface LayerKernel {
  pre: ((inputs: tf.Tensor[]) => tf.Tensor) | null;
  activation: string;
  /** True when the tap has no kernel of its own and calls `layer.apply`. */
  generic: boolean;
  /** Constant tensors the kernel derived from the weights (flipped kernels, folded BN). */
  owned: tf.Tensor[];
}

export type GradientMode = 'fast' | 'plain';

/**
 * Backends whose Conv2DBackpropInput is slow (or whose depthwise input gradient is missing),
 * where the input gradient of a conv is cheaper as a forward conv with the flipped kernel.
 * On the cpu backend tf.js's own kernel is about 3x faster than the forward-conv route.
 */
const FORWARD_CONV_GRAD_BACKENDS = new Set(['wasm']);
const useForwardConvGrad = (): boolean => FORWARD_CONV_GRAD_BACKENDS.has(tf.getBackend());

const pair = (v: unknown, name: string): [number, number] => {
  if (typeof v === 'number') return [v, v];
  if (Array.isArray(v) && v.length === 2) return [Number(v[0]), Number(v[1])];
  if (Array.isArray(v) && v.length === 1) return [Number(v[0]), Number(v[0])];
  throw new CnnXaiError('UNSUPPORTED_LAYER', `Cannot read ${name}=${JSON.stringify(v)}.`);
};

function weightsOf(layer: Layer): tf.Tensor[] {
  return layer.getWeights(false) as tf.Tensor[];
}

function checkChannelsLast(layer: Layer, cfg: Config): void {
  if (cfg['dataFormat'] === 'channelsFirst' || cfg['dataFormat'] === 'channels_first') {
    throw new CnnXaiError(
      'UNSUPPORTED_LAYER',
      `Layer "${layer.name}" (${layer.getClassName()}) uses channels-first data.`,
      'cnn-xai runs channels-last (NHWC) models; re-export the model with data_format="channels_last".',
    );
  }
}

function convParams(layer: Layer, cfg: Config): ConvParams {
  const padding = cfg['padding'];
  if (padding !== 'same' && padding !== 'valid') {
    throw new CnnXaiError('UNSUPPORTED_LAYER', `Layer "${layer.name}" has padding "${String(padding)}".`, 'Use "same" or "valid".');
  }
  return {
    strides: pair(cfg['strides'] ?? 1, 'strides'),
    padding,
    dilation: pair(cfg['dilationRate'] ?? 1, 'dilationRate'),
  };
}

const isDilated = (p: ConvParams): boolean => (p.dilation?.[0] ?? 1) > 1 || (p.dilation?.[1] ?? 1) > 1;

const addBias = (y: tf.Tensor, bias: tf.Tensor | undefined): tf.Tensor => (bias ? tf.add(y, bias) : y);

function activationName(cfg: Config): string {
  const a = cfg['activation'];
  return typeof a === 'string' ? a : 'linear';
}

/**
 * The tap's kernel for one layer. `outputRank` is the rank of the layer's output (with the
 * batch dimension), where the kernel depends on it (a Softmax layer's axis).
 */
export function buildKernel(layer: Layer, mode: GradientMode, outputRank?: number): LayerKernel {
  const cls = layer.getClassName();
  const cfg = layer.getConfig() as Config;
  const simple = (pre: LayerKernel['pre'], activation = 'linear'): LayerKernel => ({ pre, activation, generic: false, owned: [] });
  switch (cls) {
    case 'Conv2D': {
      checkChannelsLast(layer, cfg);
      const p = convParams(layer, cfg);
      const [kernel, bias] = weightsOf(layer) as [tf.Tensor4D, tf.Tensor | undefined];
      // tf.js has no gradient for dilated convs: those always take the forward-conv gradient.
      const dilated = isDilated(p);
      const flipped = mode === 'fast' || dilated ? tf.keep(flipConvKernel(kernel)) : null;
      return {
        pre: ([x]) => {
          const x4 = x as tf.Tensor4D;
          const y =
            flipped && (dilated || useForwardConvGrad())
              ? conv2dFastGrad(x4, kernel, flipped, p)
              : tf.conv2d(x4, kernel, p.strides, p.padding, 'NHWC', p.dilation);
          return addBias(y, bias);
        },
        activation: activationName(cfg),
        generic: false,
        owned: flipped ? [flipped] : [],
      };
    }
    case 'DepthwiseConv2D': {
      checkChannelsLast(layer, cfg);
      // tfjs-layers 4.22's DepthwiseConv2D ignores its dilationRate (its call and output shape use
      // dilation 1; SeparableConv2D does dilate): the tap follows, so that it computes what
      // model.predict computes and the shapes the layers after it were built for.
      const p: ConvParams = { ...convParams(layer, cfg), dilation: [1, 1] };
      const [kernel, bias] = weightsOf(layer) as [tf.Tensor4D, tf.Tensor | undefined];
      const flipped = mode === 'fast' ? tf.keep(flipDepthwiseKernel(kernel)) : null;
      return {
        pre: ([x]) => {
          const x4 = x as tf.Tensor4D;
          const y =
            flipped && useForwardConvGrad()
              ? depthwiseFastGrad(x4, kernel, flipped, p)
              : tf.depthwiseConv2d(x4, kernel, p.strides, p.padding, 'NHWC', p.dilation);
          return addBias(y, bias);
        },
        activation: activationName(cfg),
        generic: false,
        owned: flipped ? [flipped] : [],
      };
    }
    case 'SeparableConv2D': {
      checkChannelsLast(layer, cfg);
      const p = convParams(layer, cfg);
      const [depthwise, pointwise, bias] = weightsOf(layer) as [tf.Tensor4D, tf.Tensor4D, tf.Tensor | undefined];
      const dilated = isDilated(p);
      const flippedD = mode === 'fast' || dilated ? tf.keep(flipDepthwiseKernel(depthwise)) : null;
      const flippedP = mode === 'fast' ? tf.keep(flipConvKernel(pointwise)) : null;
      const one: ConvParams = { strides: [1, 1], padding: 'valid', dilation: [1, 1] };
      return {
        pre: ([x]) => {
          const x4 = x as tf.Tensor4D;
          const forwardGrad = useForwardConvGrad();
          const d =
            flippedD && (dilated || forwardGrad)
              ? depthwiseFastGrad(x4, depthwise, flippedD, p)
              : tf.depthwiseConv2d(x4, depthwise, p.strides, p.padding, 'NHWC', p.dilation);
          const y = flippedP && forwardGrad ? conv2dFastGrad(d, pointwise, flippedP, one) : tf.conv2d(d, pointwise, 1, 'valid');
          return addBias(y, bias);
        },
        activation: activationName(cfg),
        generic: false,
        owned: [flippedD, flippedP].filter((t): t is tf.Tensor4D => t !== null),
      };
    }
    case 'Dense': {
      const [kernel, bias] = weightsOf(layer) as [tf.Tensor2D, tf.Tensor | undefined];
      return simple(([x]) => {
        const t = x as tf.Tensor;
        if (t.rank === 2) return addBias(tf.matMul(t as tf.Tensor2D, kernel), bias);
        const lead = t.shape.slice(0, -1);
        const flat = tf.reshape(t, [-1, t.shape[t.rank - 1] as number]) as tf.Tensor2D;
        return tf.reshape(addBias(tf.matMul(flat, kernel), bias), [...lead, kernel.shape[1]]);
      }, activationName(cfg));
    }
    case 'MaxPooling2D':
    case 'AveragePooling2D': {
      checkChannelsLast(layer, cfg);
      const pool = pair(cfg['poolSize'], 'poolSize');
      const strides = pair(cfg['strides'] ?? cfg['poolSize'], 'strides');
      const padding = cfg['padding'] === 'same' ? 'same' : 'valid';
      const p: PoolParams = { pool, strides, padding };
      // tf.js's AvgPool gradient is wrong at the borders with 'same' padding (both modes: it is
      // not a convention but a wrong derivative).
      if (cls === 'AveragePooling2D') return simple(([x]) => avgPoolExact(x as tf.Tensor4D, p));
      return simple(([x]) =>
        mode === 'fast' ? maxPoolFirstMax(x as tf.Tensor4D, p) : tf.maxPool(x as tf.Tensor4D, pool, strides, padding),
      );
    }
    case 'GlobalAveragePooling2D':
      checkChannelsLast(layer, cfg);
      return simple(([x]) => tf.mean(x as tf.Tensor, [1, 2], cfg['keepDims'] === true));
    case 'GlobalMaxPooling2D':
      checkChannelsLast(layer, cfg);
      return simple(([x]) => tf.max(x as tf.Tensor, [1, 2], cfg['keepDims'] === true));
    case 'BatchNormalization': {
      const l = layer as unknown as {
        gamma?: { read(): tf.Tensor };
        beta?: { read(): tf.Tensor };
        movingMean: { read(): tf.Tensor };
        movingVariance: { read(): tf.Tensor };
      };
      const axis = cfg['axis'];
      if (axis !== -1 && axis !== 3 && !(Array.isArray(axis) && (axis[0] === -1 || axis[0] === 3))) {
        throw new CnnXaiError('UNSUPPORTED_LAYER', `BatchNormalization "${layer.name}" normalises axis ${String(axis)}.`, 'Only the channel axis (-1) is supported.');
      }
      const eps = Number(cfg['epsilon'] ?? 1e-3);
      const [scale, shift] = tf.tidy(() => {
        const gamma = l.gamma ? l.gamma.read() : tf.scalar(1);
        const beta = l.beta ? l.beta.read() : tf.scalar(0);
        const s = tf.div(gamma, tf.sqrt(tf.add(l.movingVariance.read(), eps)));
        return [s, tf.sub(beta, tf.mul(l.movingMean.read(), s))];
      });
      tf.keep(scale);
      tf.keep(shift);
      return { pre: ([x]) => tf.add(tf.mul(x as tf.Tensor, scale), shift), activation: 'linear', generic: false, owned: [scale, shift] };
    }
    case 'Add':
      return simple((xs) => xs.reduce((a, b) => tf.add(a, b)));
    case 'Subtract':
      return simple(([a, b]) => tf.sub(a as tf.Tensor, b as tf.Tensor));
    case 'Multiply':
      return simple((xs) => xs.reduce((a, b) => tf.mul(a, b)));
    case 'Average':
      return simple((xs) => tf.div(xs.reduce((a, b) => tf.add(a, b)), xs.length));
    case 'Maximum':
      return simple((xs) => xs.reduce((a, b) => tf.maximum(a, b)));
    case 'Minimum':
      return simple((xs) => xs.reduce((a, b) => tf.minimum(a, b)));
    case 'Concatenate':
      return simple((xs) => tf.concat(xs, Number(cfg['axis'] ?? -1)));
    case 'Flatten':
      return simple(([x]) => tf.reshape(x as tf.Tensor, [(x as tf.Tensor).shape[0] as number, -1]));
    case 'Reshape': {
      const target = cfg['targetShape'] as number[];
      return simple(([x]) => tf.reshape(x as tf.Tensor, [(x as tf.Tensor).shape[0] as number, ...target]));
    }
    case 'Dropout':
    case 'SpatialDropout1D':
    case 'SpatialDropout2D':
    case 'GaussianNoise':
    case 'GaussianDropout':
    case 'AlphaDropout':
      return simple(([x]) => x as tf.Tensor);
    case 'ZeroPadding2D': {
      checkChannelsLast(layer, cfg);
      const pad = cfg['padding'];
      let rows: [number, number];
      let cols: [number, number];
      if (typeof pad === 'number') rows = cols = [pad, pad];
      else if (Array.isArray(pad) && typeof pad[0] === 'number') {
        rows = [pad[0], pad[0]];
        cols = [Number(pad[1]), Number(pad[1])];
      } else {
        const pp = pad as [[number, number], [number, number]];
        rows = pp[0];
        cols = pp[1];
      }
      return simple(([x]) =>
        tf.pad(x as tf.Tensor4D, [
          [0, 0],
          rows,
          cols,
          [0, 0],
        ]),
      );
    }
    case 'Activation':
      return { pre: null, activation: activationName(cfg), generic: false, owned: [] };
    case 'ReLU': {
      const plain = (cfg['maxValue'] == null) && !cfg['negativeSlope'] && !cfg['threshold'];
      if (plain) return { pre: null, activation: 'relu', generic: false, owned: [] };
      break;
    }
    case 'Softmax': {
      // tfjs-layers' Softmax defaults to axis 1 (not -1): it is a softmax over the features when
      // that is the last axis of its output (axis 1 of a [N, classes] output, or -1).
      const raw = cfg['axis'];
      const axis = Array.isArray(raw) && raw.length === 1 ? Number(raw[0]) : raw === undefined || raw === null ? 1 : raw;
      if (typeof axis === 'number' && (axis === -1 || (outputRank !== undefined && axis === outputRank - 1))) {
        return { pre: null, activation: 'softmax', generic: false, owned: [] };
      }
      break;
    }
    default:
      break;
  }
  // No kernel of our own: let the layer run itself (gradients then depend on tfjs's kernels).
  return {
    pre: (xs) => {
      const out = layer.apply(xs.length === 1 ? (xs[0] as tf.Tensor) : xs, { training: false });
      return Array.isArray(out) ? (out[0] as tf.Tensor) : (out as tf.Tensor);
    },
    activation: 'linear',
    generic: true,
    owned: [],
  };
}

/** Applies a Keras activation by name; unknown names go through the layer's own activation. */
export function applyActivation(name: string, x: tf.Tensor, layer: Layer): tf.Tensor {
  switch (name) {
    case 'linear':
      return x;
    case 'relu':
      return tf.relu(x);
    case 'relu6':
      return tf.relu6(x);
    case 'sigmoid':
      return tf.sigmoid(x);
    case 'tanh':
      return tf.tanh(x);
    case 'softmax':
      return tf.softmax(x, -1);
    case 'elu':
      return tf.elu(x);
    case 'selu':
      return tf.selu(x);
    case 'softplus':
      return tf.softplus(x);
    case 'softsign':
      return tf.div(x, tf.add(tf.abs(x), 1));
    case 'swish':
      return tf.mul(x, tf.sigmoid(x));
    default: {
      const cls = layer.getClassName();
      if (cls === 'Activation' || cls === 'ReLU' || cls === 'LeakyReLU' || cls === 'Softmax') {
        return layer.apply(x) as tf.Tensor;
      }
      const act = (layer as unknown as { activation?: { apply(t: tf.Tensor): tf.Tensor } }).activation;
      if (act) return act.apply(x);
      throw new CnnXaiError('UNSUPPORTED_LAYER', `Unknown activation "${name}" in layer "${layer.name}".`);
    }
  }
}

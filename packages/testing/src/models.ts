import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import type { LayersModel, SymbolicTensor } from '@tensorflow/tfjs-layers';
import { createRandom, type RandomStream } from '@cnn-xai/core';

/**
 * Small generated models with deterministic weights, for tests. Every factory builds the
 * architecture with tfjs-layers, then overwrites every weight (BatchNorm statistics included)
 * from core's seeded random stream, so the same arguments give the same model on every backend.
 * Layer names are fixed (e.g. `conv1`, `block2_add`) so tests can refer to them.
 */
export interface ModelArgs {
  /** Seed of the weight stream (default 1). */
  seed?: number;
  /** Input shape without the batch dimension, [H, W, C]. */
  inputShape?: [number, number, number];
  /** Number of output classes. */
  classes?: number;
}

export interface ActivationArgs extends ModelArgs {
  /**
   * Activation of the hidden layers (default `relu`); `tanh` or `softplus` give a smooth
   * network for finite-difference checks.
   */
  activation?: 'relu' | 'tanh' | 'softplus' | 'elu';
}

type Act = NonNullable<ActivationArgs['activation']>;

const sym = (t: SymbolicTensor | SymbolicTensor[] | tf.Tensor | tf.Tensor[]): SymbolicTensor => t as SymbolicTensor;

/** fan-in of a kernel: every axis but the last (conv [kh,kw,in,out], dense [in,out]). */
function fanIn(shape: readonly number[]): number {
  return shape.slice(0, -1).reduce((a, b) => a * b, 1) || 1;
}

/** Values for one weight, chosen by the weight's name (kernel, bias, BatchNorm statistics). */
function valuesFor(kind: string, shape: number[], rnd: RandomStream): Float32Array {
  const n = shape.reduce((a, b) => a * b, 1);
  switch (kind) {
    case 'kernel':
    case 'pointwise_kernel':
      return rnd.normalArray(n, 0, Math.sqrt(2 / fanIn(shape)));
    case 'depthwise_kernel':
      // [kh, kw, C, multiplier]: each output sees kh*kw inputs.
      return rnd.normalArray(n, 0, Math.sqrt(2 / ((shape[0] ?? 1) * (shape[1] ?? 1))));
    case 'bias':
      return rnd.uniformArray(n, -0.1, 0.1);
    case 'gamma':
      return rnd.uniformArray(n, 0.6, 1.4);
    case 'beta':
      return rnd.normalArray(n, 0, 0.1);
    case 'moving_mean':
      return rnd.normalArray(n, 0, 0.3);
    case 'moving_variance':
      return rnd.uniformArray(n, 0.4, 1.6);
    default:
      throw new Error(`@cnn-xai/testing: no rule for a weight named "${kind}"`);
  }
}

/** The kind of a weight from its name: `block1/conv_a/kernel_3` -> `kernel`. */
function weightKind(name: string): string {
  const last = name.split('/').pop() ?? name;
  return last.replace(/_\d+$/, '');
}

/**
 * Overwrites every weight of a model (trainable or not, nested models included) from a seeded
 * stream: He-normal kernels, small biases, BatchNorm gamma in [0.6, 1.4], beta ~ N(0, 0.1),
 * moving mean ~ N(0, 0.3), moving variance in [0.4, 1.6]. Returns the model.
 */
export function seedWeights<M extends LayersModel>(model: M, seed: number): M {
  const rnd = createRandom(seed);
  for (const v of model.weights) {
    const shape = [...v.shape] as number[];
    const t = tf.tensor(valuesFor(weightKind(v.originalName ?? v.name), shape, rnd), shape, 'float32');
    v.write(t);
    t.dispose();
  }
  return model;
}

/**
 * Shifts the bias of the model's last Dense layer so that every class has a mean logit of zero
 * over a seeded batch of random inputs. Random networks otherwise predict one class for almost
 * every input; balanced, the top class varies between inputs. The shift is rounded to 1e-4 so
 * that it is the same on every backend.
 */
export function balanceClasses<M extends LayersModel>(model: M, seed: number): M {
  const last = model.layers[model.layers.length - 1];
  const bias = last?.weights.find((w) => weightKind(w.originalName ?? w.name) === 'bias');
  if (!last || last.getClassName() !== 'Dense' || !bias) return model;
  const shape = model.inputs[0]?.shape.slice(1) as number[];
  const softmax = (last.getConfig() as { activation?: string }).activation === 'softmax';
  const shift = tf.tidy(() => {
    const x = randomInput([32, ...shape], seed, { flat: false });
    let out = model.predict(x) as tf.Tensor;
    if (softmax) out = tf.log(tf.add(out, 1e-30));
    const mean = tf.mean(out, 0);
    return Array.from(tf.sub(mean, tf.mean(mean)).dataSync(), (v) => Math.round(v * 1e4) / 1e4);
  });
  const next = tf.tidy(() => tf.sub(bias.read(), tf.tensor1d(shift)));
  bias.write(next);
  next.dispose();
  return model;
}

type ConvArgs = Parameters<typeof tfl.layers.conv2d>[0];

const conv = (name: string, filters: number, activation: Act | 'linear', extra: Partial<ConvArgs> = {}) =>
  tfl.layers.conv2d({ name, filters, kernelSize: 3, padding: 'same', activation, ...extra });

/**
 * VGG-like: conv1(act) - conv2(act) - pool1 (max 2) - conv3(act) - gap - logits (dense, no
 * activation). Default input [16, 16, 1], 4 classes. The GAP + dense head makes CAM applicable.
 */
export function tinyVgg(args: ActivationArgs = {}): LayersModel {
  const { seed = 1, inputShape = [16, 16, 1], classes = 4, activation = 'relu' } = args;
  const model = tfl.sequential({
    name: 'tiny_vgg',
    layers: [
      conv('conv1', 4, activation, { inputShape }),
      conv('conv2', 4, activation),
      tfl.layers.maxPooling2d({ name: 'pool1', poolSize: 2 }),
      conv('conv3', 8, activation),
      tfl.layers.globalAveragePooling2d({ name: 'gap' }),
      tfl.layers.dense({ name: 'logits', units: classes }),
    ],
  });
  return balanceClasses(seedWeights(model, seed), seed);
}

/**
 * ResNet-like: stem conv (no bias) + BatchNorm + act; block1 (identity shortcut:
 * conv-BN-act-conv-BN, `block1_add`, act); block2 (stride 2, with a strided 1x1 projection +
 * BatchNorm on the shortcut, `block2_add`, act); gap; logits. Default input [12, 12, 3],
 * 5 classes. All BatchNorm layers have non-trivial statistics.
 */
export function tinyResnet(args: ActivationArgs = {}): LayersModel {
  const { seed = 2, inputShape = [12, 12, 3], classes = 5, activation = 'relu' } = args;
  const act = (name: string) => tfl.layers.activation({ name, activation });
  const bn = (name: string) => tfl.layers.batchNormalization({ name });
  const input = tfl.input({ shape: inputShape, name: 'image' });
  let x = sym(conv('stem_conv', 4, 'linear', { useBias: false }).apply(input));
  x = sym(bn('stem_bn').apply(x));
  x = sym(act('stem_act').apply(x));
  // Block 1: identity shortcut.
  let y = sym(conv('block1_conv_a', 4, 'linear').apply(x));
  y = sym(bn('block1_bn_a').apply(y));
  y = sym(act('block1_act_a').apply(y));
  y = sym(conv('block1_conv_b', 4, 'linear').apply(y));
  y = sym(bn('block1_bn_b').apply(y));
  x = sym(tfl.layers.add({ name: 'block1_add' }).apply([x, y]));
  x = sym(act('block1_out').apply(x));
  // Block 2: stride 2 with a projection shortcut.
  y = sym(conv('block2_conv_a', 8, 'linear', { strides: 2 }).apply(x));
  y = sym(bn('block2_bn_a').apply(y));
  y = sym(act('block2_act_a').apply(y));
  y = sym(conv('block2_conv_b', 8, 'linear').apply(y));
  y = sym(bn('block2_bn_b').apply(y));
  let s = sym(tfl.layers.conv2d({ name: 'block2_proj', filters: 8, kernelSize: 1, strides: 2, padding: 'valid' }).apply(x));
  s = sym(bn('block2_proj_bn').apply(s));
  x = sym(tfl.layers.add({ name: 'block2_add' }).apply([s, y]));
  x = sym(act('block2_out').apply(x));
  x = sym(tfl.layers.globalAveragePooling2d({ name: 'gap' }).apply(x));
  const out = sym(tfl.layers.dense({ name: 'logits', units: classes }).apply(x));
  return balanceClasses(seedWeights(tfl.model({ name: 'tiny_resnet', inputs: input, outputs: out }), seed), seed);
}

/**
 * MobileNet-like: conv (stride 1) + BN + ReLU layer; depthwise 3x3 (multiplier 1) + BN + ReLU;
 * depthwise 3x3 with multiplier 2 and stride 2 + ReLU; separable conv + BN + ReLU; gap;
 * `probs` dense with a softmax activation (the tap strips it in logits mode).
 * Default input [12, 12, 3], 6 classes. With `activation` other than relu, the ReLU layers become
 * Activation layers of that function (a smooth network for finite differences).
 */
export function tinyMobilenet(args: ActivationArgs = {}): LayersModel {
  const { seed = 3, inputShape = [12, 12, 3], classes = 6, activation = 'relu' } = args;
  const relu = (name: string) => (activation === 'relu' ? tfl.layers.reLU({ name }) : tfl.layers.activation({ name, activation }));
  const model = tfl.sequential({
    name: 'tiny_mobilenet',
    layers: [
      conv('conv1', 4, 'linear', { inputShape }),
      tfl.layers.batchNormalization({ name: 'conv1_bn' }),
      relu('conv1_relu'),
      tfl.layers.depthwiseConv2d({ name: 'dw1', kernelSize: 3, padding: 'same', useBias: false }),
      tfl.layers.batchNormalization({ name: 'dw1_bn' }),
      relu('dw1_relu'),
      tfl.layers.depthwiseConv2d({ name: 'dw2', kernelSize: 3, depthMultiplier: 2, strides: 2, padding: 'same' }),
      relu('dw2_relu'),
      tfl.layers.separableConv2d({ name: 'sep1', filters: 8, kernelSize: 3, padding: 'same' }),
      tfl.layers.batchNormalization({ name: 'sep1_bn' }),
      relu('sep1_relu'),
      tfl.layers.globalAveragePooling2d({ name: 'gap' }),
      tfl.layers.dense({ name: 'probs', units: classes, activation: 'softmax' }),
    ],
  });
  return balanceClasses(seedWeights(model, seed), seed);
}

/**
 * Two parallel branches joined by `concat`: branch a is a 'same' conv; branch b pads
 * asymmetrically (ZeroPadding2D [[1, 0], [0, 1]] then [[0, 1], [1, 0]]) and runs a 'valid' conv.
 * Then AveragePooling2D 2, a conv, Flatten, Dropout and the `logits` Dense.
 * Default input [12, 12, 1], 3 classes.
 */
export function tinyBranchy(args: ActivationArgs = {}): LayersModel {
  const { seed = 4, inputShape = [12, 12, 1], classes = 3, activation = 'relu' } = args;
  const input = tfl.input({ shape: inputShape, name: 'image' });
  const a = sym(conv('branch_a', 3, activation).apply(input));
  let b = sym(tfl.layers.zeroPadding2d({ name: 'pad_b1', padding: [[1, 0], [0, 1]] }).apply(input));
  b = sym(tfl.layers.zeroPadding2d({ name: 'pad_b2', padding: [[0, 1], [1, 0]] }).apply(b));
  b = sym(conv('branch_b', 2, activation, { padding: 'valid' }).apply(b));
  let x = sym(tfl.layers.concatenate({ name: 'concat' }).apply([a, b]));
  x = sym(tfl.layers.averagePooling2d({ name: 'avg_pool', poolSize: 2 }).apply(x));
  x = sym(conv('conv_mid', 4, activation).apply(x));
  x = sym(tfl.layers.flatten({ name: 'flatten' }).apply(x));
  x = sym(tfl.layers.dropout({ name: 'dropout', rate: 0.5 }).apply(x));
  const out = sym(tfl.layers.dense({ name: 'logits', units: classes }).apply(x));
  return balanceClasses(seedWeights(tfl.model({ name: 'tiny_branchy', inputs: input, outputs: out }), seed), seed);
}

/**
 * A functional model that uses a Sequential sub-model `features` (conv `conv_a`, max pool
 * `pool_a`, conv `conv_b`) as a layer, then a conv `head_conv`, gap and `logits`.
 * Tap layer names inside the sub-model are `features/conv_a` etc. Default input [12, 12, 1], 4 classes.
 */
export function tinyNested(args: ActivationArgs = {}): LayersModel {
  const { seed = 5, inputShape = [12, 12, 1], classes = 4, activation = 'relu' } = args;
  const features = tfl.sequential({
    name: 'features',
    layers: [
      conv('conv_a', 4, activation, { inputShape }),
      tfl.layers.maxPooling2d({ name: 'pool_a', poolSize: 2 }),
      conv('conv_b', 4, activation),
    ],
  });
  const input = tfl.input({ shape: inputShape, name: 'image' });
  let x = sym(features.apply(input));
  x = sym(conv('head_conv', 6, activation).apply(x));
  x = sym(tfl.layers.globalAveragePooling2d({ name: 'gap' }).apply(x));
  const out = sym(tfl.layers.dense({ name: 'logits', units: classes }).apply(x));
  return balanceClasses(seedWeights(tfl.model({ name: 'tiny_nested', inputs: input, outputs: out }), seed), seed);
}

/**
 * Flatten + Dense with no activation: logits = flatten(x) W + b, so the input gradient of
 * class k is exactly column k of W reshaped to the input, and IG's attributions are
 * (x - baseline) * W[:, k]. Default input [4, 4, 1], 3 classes.
 */
export function linearModel(args: ModelArgs = {}): LayersModel {
  const { seed = 6, inputShape = [4, 4, 1], classes = 3 } = args;
  const model = tfl.sequential({
    name: 'linear',
    layers: [tfl.layers.flatten({ name: 'flatten', inputShape }), tfl.layers.dense({ name: 'logits', units: classes })],
  });
  return balanceClasses(seedWeights(model, seed), seed);
}

/**
 * No layer with a 4-D output after the input (Flatten + Dense relu + Dense): CAM methods must
 * fail with NO_CONV_LAYER. Default input [8, 8, 1], 3 classes.
 */
export function tinyNoConv(args: ModelArgs = {}): LayersModel {
  const { seed = 7, inputShape = [8, 8, 1], classes = 3 } = args;
  const model = tfl.sequential({
    name: 'no_conv',
    layers: [
      tfl.layers.flatten({ name: 'flatten', inputShape }),
      tfl.layers.dense({ name: 'hidden', units: 8, activation: 'relu' }),
      tfl.layers.dense({ name: 'logits', units: classes }),
    ],
  });
  return balanceClasses(seedWeights(model, seed), seed);
}

export type TestModelName =
  | 'tinyVgg'
  | 'tinyResnet'
  | 'tinyMobilenet'
  | 'tinyBranchy'
  | 'tinyNested'
  | 'linearModel'
  | 'tinyNoConv';

/**
 * Every generated model with its default arguments. `linearModel` and `tinyNoConv` have no
 * conv layer, so CAM-family explainers should not be run on them.
 */
export const TEST_MODELS: Readonly<Record<TestModelName, () => LayersModel>> = Object.freeze({
  tinyVgg: () => tinyVgg(),
  tinyResnet: () => tinyResnet(),
  tinyMobilenet: () => tinyMobilenet(),
  tinyBranchy: () => tinyBranchy(),
  tinyNested: () => tinyNested(),
  linearModel: () => linearModel(),
  tinyNoConv: () => tinyNoConv(),
});

/** Models with a conv layer and a GAP + dense head (CAM applies). */
export const CAM_MODELS: readonly TestModelName[] = ['tinyVgg', 'tinyResnet', 'tinyMobilenet', 'tinyNested'];

export interface RandomInputOptions {
  /**
   * Add flat regions (default true): values are rounded to multiples of 1/16 and a random
   * rectangle per image is set to one constant, so max-pool windows hold ties.
   */
  flat?: boolean;
}

/**
 * A float32 batch of the given shape ([N, H, W, C]) with values in [0, 1], from a seeded stream:
 * noise over a linear ramp, with a random gain and offset per image and channel.
 */
export function randomInput(shape: readonly number[], seed = 0, opts: RandomInputOptions = {}): tf.Tensor4D {
  if (shape.length !== 4) throw new Error(`randomInput: expected [N, H, W, C], got [${shape.join(', ')}]`);
  const [n, h, w, c] = shape as [number, number, number, number];
  const rnd = createRandom(seed);
  const data = rnd.uniformArray(n * h * w * c);
  // Images differ in brightness, contrast and tint (not only in noise), so that models'
  // outputs, and their top classes, differ between images.
  for (let img = 0; img < n; img++) {
    const tint = Array.from({ length: c }, () => {
      const gain = 0.2 + 0.8 * rnd.next();
      return [gain, (1 - gain) * rnd.next()] as const;
    });
    // A smooth gradient across the image, with a random direction.
    const gy = rnd.next() - 0.5;
    const gx = rnd.next() - 0.5;
    for (let y = 0; y < h; y++) {
      for (let x = 0; x < w; x++) {
        const ramp = 0.5 + gy * (y / Math.max(1, h - 1) - 0.5) + gx * (x / Math.max(1, w - 1) - 0.5);
        for (let ch = 0; ch < c; ch++) {
          const i = ((img * h + y) * w + x) * c + ch;
          const [gain, offset] = tint[ch] as readonly [number, number];
          data[i] = Math.min(1, Math.max(0, offset + gain * (0.5 * (data[i] as number) + 0.5 * ramp)));
        }
      }
    }
  }
  if (opts.flat ?? true) {
    for (let i = 0; i < data.length; i++) data[i] = Math.round((data[i] as number) * 16) / 16;
    for (let img = 0; img < n; img++) {
      const rh = 1 + rnd.int(Math.max(1, Math.floor(h / 2)));
      const rw = 1 + rnd.int(Math.max(1, Math.floor(w / 2)));
      const top = rnd.int(h - rh + 1);
      const left = rnd.int(w - rw + 1);
      const value = Math.round(rnd.next() * 16) / 16;
      for (let y = top; y < top + rh; y++) {
        for (let x = left; x < left + rw; x++) {
          for (let ch = 0; ch < c; ch++) data[((img * h + y) * w + x) * c + ch] = value;
        }
      }
    }
  }
  return tf.tensor4d(data, [n, h, w, c]);
}

/**
 * A Fashion-MNIST-like batch [n, size, size, 1] in [0, 1]: a flat zero background (ties
 * everywhere) and one garment-like shape per image (an ellipse or a rounded rectangle) filled
 * with a flat base tone, a flat band and a little texture.
 */
export function fashionLikeInput(n: number, seed = 0, size = 28): tf.Tensor4D {
  const rnd = createRandom(seed);
  const data = new Float32Array(n * size * size);
  for (let img = 0; img < n; img++) {
    const cy = size * (0.4 + 0.2 * rnd.next());
    const cx = size * (0.4 + 0.2 * rnd.next());
    const ry = size * (0.25 + 0.15 * rnd.next());
    const rx = size * (0.2 + 0.15 * rnd.next());
    const ellipse = rnd.next() < 0.5;
    const base = 0.4 + 0.4 * rnd.next();
    const bandTop = Math.floor(cy - ry / 3);
    const bandBottom = bandTop + Math.max(1, Math.floor(ry / 3));
    const band = Math.min(1, base + 0.2);
    for (let y = 0; y < size; y++) {
      for (let x = 0; x < size; x++) {
        const dy = (y + 0.5 - cy) / ry;
        const dx = (x + 0.5 - cx) / rx;
        const inside = ellipse ? dx * dx + dy * dy <= 1 : Math.abs(dx) <= 1 && Math.abs(dy) <= 1;
        if (!inside) continue;
        let v = y >= bandTop && y < bandBottom ? band : base;
        if ((x + y) % 5 === 0) v = Math.min(1, v + 0.1 * rnd.next());
        data[(img * size + y) * size + x] = Math.round(v * 32) / 32;
      }
    }
  }
  return tf.tensor4d(data, [n, size, size, 1]);
}

/** An input batch for a model: `randomInput` with the model's input shape. */
export function inputFor(model: LayersModel, n: number, seed = 0, opts: RandomInputOptions = {}): tf.Tensor4D {
  const shape = model.inputs[0]?.shape.slice(1) ?? [];
  if (shape.length !== 3 || shape.some((d) => d === null)) {
    throw new Error(`inputFor: the model's input shape [${shape.join(', ')}] is not a fixed [H, W, C]`);
  }
  return randomInput([n, ...(shape as number[])], seed, opts);
}

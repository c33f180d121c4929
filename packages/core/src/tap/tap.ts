import * as tf from '@tensorflow/tfjs-core';
import type { LayersModel, layers, SymbolicTensor } from '@tensorflow/tfjs-layers';
import { CnnXaiError, listNames } from '../errors.js';
import { applyActivation, buildKernel, type GradientMode, type LayerKernel } from './kernels.js';

type Layer = layers.Layer;

/** One computation the tap performs, as a backward override sees it. */
export interface TapOp {
  /** Layer name; layers inside a nested model are `outer/inner`. */
  layer: string;
  /** Keras class name: Conv2D, Dense, MaxPooling2D, ... */
  className: string;
  /** `layer`: the layer's computation before its activation; `activation`: the activation. */
  part: 'layer' | 'activation';
  /** The activation's name for `part: 'activation'` ('relu', ...). */
  activation?: string;
  /** The tfjs layer object (weights, config). */
  source: Layer;
  /** Recomputes this op's forward function (e.g. for LRP rules with modified inputs). */
  forward(inputs: tf.Tensor[]): tf.Tensor;
}

/**
 * A backward rule that replaces the gradient of every op it matches, inside one tap call
 * only (through tf.customGrad): no global gradient registration, so other explanations on
 * the same page keep plain gradients.
 */
export interface BackwardOverride {
  match(op: TapOp): boolean;
  /** Returns the gradient with respect to each of `inputs` (one tensor when there is one input). */
  backward(args: { op: TapOp; inputs: tf.Tensor[]; output: tf.Tensor; dy: tf.Tensor }): tf.Tensor | tf.Tensor[];
}

export interface LayerInfo {
  name: string;
  className: string;
  /** Output shape with a null batch dimension. */
  outputShape: (number | null)[];
  /** Position in execution order (0 is the input). */
  index: number;
  activation: string;
  /** True when the tap has no kernel of its own for this layer and calls `layer.apply`. */
  generic: boolean;
  /** Names of the layers whose outputs this layer reads, in input order (empty for the input). */
  inbound: string[];
}

export interface TapOptions {
  /**
   * `logits` (default): a softmax that ends the model is left out, so explanations use logits as
   * Captum and pytorch-grad-cam do. `model`: the model's own output. In logits mode, fetching a
   * final Softmax layer (or a Dense layer with a softmax activation) by name also gives logits.
   * A Softmax layer counts when its axis is the last one of its output (tfjs-layers' default
   * axis 1 on a [N, classes] output, or -1).
   */
  output?: 'logits' | 'model';
  /**
   * `fast` (default): PyTorch's max-pool tie rule (first maximum) on every backend, and on wasm
   * conv input gradients computed as forward convs (wasm's Conv2DBackpropInput is slow and it
   * has no depthwise input gradient). `plain`: tf.js's own gradient kernels (for comparison).
   * In both modes, dilated convs take the forward-conv input gradient (tf.js has none for them),
   * and average pooling with 'same' padding divides the gradient by each window's in-image count
   * as its forward does (tf.js 4.22's AvgPoolGrad divides by the full window size).
   */
  gradients?: GradientMode;
}

/** Per-sample scores of a model output, e.g. the target logit of each image. */
export type ScoreFn = (output: tf.Tensor) => tf.Tensor1D;

/** Gradients at several layers from one backward pass (`ModelTap.gradients`), keyed by layer name. */
export interface MultiGradientResult {
  /** d(sum of scores)/d(activation) per layer: the total derivative, through every path. */
  gradients: Record<string, tf.Tensor>;
  /** The activation of each layer. */
  activations: Record<string, tf.Tensor>;
  /** Model output (logits by default). */
  output: tf.Tensor;
  /** The per-sample scores that were differentiated. */
  scores: tf.Tensor1D;
}

export interface GradientResult {
  /** d(sum of scores)/d(input or layer activation); same shape as what it is taken against. */
  gradient: tf.Tensor;
  /** The layer's activation (null when the gradient is taken at the input). */
  activation: tf.Tensor | null;
  /** Model output (logits by default). */
  output: tf.Tensor;
  /** The per-sample scores that were differentiated. */
  scores: tf.Tensor1D;
}

interface Step {
  name: string;
  layer: Layer;
  className: string;
  inputs: string[];
  outputs: string[];
  kernel: LayerKernel;
  /** Leave out this step's softmax (the final softmax in logits mode). */
  skipActivation: boolean;
}

const INPUT_KEY = 'input';

function isContainer(layer: Layer): layer is Layer & LayersModel {
  const l = layer as unknown as { layers?: unknown; inputs?: unknown; outputs?: unknown };
  return Array.isArray(l.layers) && Array.isArray(l.inputs) && Array.isArray(l.outputs);
}

/**
 * Runs a tf.LayersModel layer by layer: reads any layer's activation, takes gradients at the
 * input or at any layer, runs the network from a layer's activation to the output, and
 * overrides backward rules locally. Sequential and functional models, branches, residual adds,
 * concatenations and nested models are supported.
 */
export class ModelTap {
  readonly model: LayersModel;
  /** Input shape without the batch dimension, e.g. [28, 28, 1] (null where free). */
  readonly inputShape: (number | null)[];
  readonly options: Required<TapOptions>;
  /** True when the model ends in a softmax that the tap leaves out (logits mode). */
  readonly softmaxStripped: boolean;
  private readonly steps: Step[] = [];
  private readonly outputKey: string;
  private readonly infos: LayerInfo[] = [];
  private readonly keyByName = new Map<string, string>();
  private readonly producerByKey = new Map<string, string>();
  private readonly downstreamCache = new Map<string, Set<number>>();
  private disposed = false;
  private readonly releasers: Array<() => void> = [];

  static from(model: LayersModel | ModelTap, options: TapOptions = {}): ModelTap {
    return model instanceof ModelTap ? model : new ModelTap(model, options);
  }

  constructor(model: LayersModel, options: TapOptions = {}) {
    this.model = model;
    this.options = { output: options.output ?? 'logits', gradients: options.gradients ?? 'fast' };
    if (model.inputs.length !== 1 || model.outputs.length !== 1) {
      throw new CnnXaiError(
        'UNSUPPORTED_MODEL',
        `The model has ${model.inputs.length} inputs and ${model.outputs.length} outputs.`,
        'cnn-xai explains single-input, single-output image models; build a sub-model with tf.model({inputs, outputs}) that has one of each.',
      );
    }
    const input = model.inputs[0] as SymbolicTensor;
    this.inputShape = input.shape.slice(1);
    const inputName = input.sourceLayer?.name ?? INPUT_KEY;
    this.keyByName.set(inputName, INPUT_KEY);
    this.infos.push({ name: inputName, className: 'InputLayer', outputShape: [...input.shape], index: 0, activation: 'linear', generic: false, inbound: [] });
    try {
      [this.outputKey] = this.build(model, [INPUT_KEY], '') as [string];
    } catch (e) {
      this.dispose();
      throw e;
    }
    const last = this.steps.find((s) => s.outputs.includes(this.outputKey));
    this.softmaxStripped = this.options.output === 'logits' && last !== undefined && last.kernel.activation === 'softmax';
    if (last && this.softmaxStripped) last.skipActivation = true;
  }

  /** Expands a container's graph into steps; returns the value keys of its outputs. */
  private build(container: LayersModel, inputKeys: string[], prefix: string): string[] {
    const keyOf = new Map<number, string>();
    container.inputs.forEach((st, i) => keyOf.set(st.id, inputKeys[i] as string));
    const seen = new Map<string, number>();
    const visit = (st: SymbolicTensor): string => {
      const known = keyOf.get(st.id);
      if (known !== undefined) return known;
      const layer = st.sourceLayer;
      const node = layer.inboundNodes[st.nodeIndex];
      if (!node) throw new CnnXaiError('UNSUPPORTED_MODEL', `Cannot trace the graph at layer "${layer.name}".`);
      const inKeys = node.inputTensors.map(visit);
      const count = seen.get(layer.name) ?? 0;
      seen.set(layer.name, count + 1);
      const name = `${prefix}${layer.name}${count > 0 ? `#${count}` : ''}`;
      let outKeys: string[];
      if (isContainer(layer)) {
        const inbound = inKeys.map((k) => this.producerOf(k));
        outKeys = this.build(layer, inKeys, `${name}/`);
        this.registerName(name, layer.getClassName(), outKeys[0] as string, node.outputTensors[0]?.shape ?? [], 'linear', false, inbound);
      } else {
        outKeys = node.outputTensors.map((o) => `${prefix}${count > 0 ? `${count}:` : ''}${o.id}`);
        const kernel = buildKernel(layer, this.options.gradients, node.outputTensors[0]?.rank);
        this.steps.push({ name, layer, className: layer.getClassName(), inputs: inKeys, outputs: outKeys, kernel, skipActivation: false });
        this.registerName(name, layer.getClassName(), outKeys[0] as string, node.outputTensors[0]?.shape ?? [], kernel.activation, kernel.generic, inKeys.map((k) => this.producerOf(k)));
        outKeys.forEach((k) => this.producerByKey.set(k, name));
      }
      node.outputTensors.forEach((o, i) => keyOf.set(o.id, outKeys[i] as string));
      return keyOf.get(st.id) as string;
    };
    return container.outputs.map(visit);
  }

  private registerName(
    name: string,
    className: string,
    key: string,
    shape: (number | null)[],
    activation: string,
    generic: boolean,
    inbound: string[],
  ): void {
    this.keyByName.set(name, key);
    this.infos.push({ name, className, outputShape: [...shape], index: this.infos.length, activation, generic, inbound });
  }

  /** The leaf layer (or the input) that computes a value key. */
  private producerOf(key: string): string {
    return this.producerByKey.get(key) ?? (this.infos[0] as LayerInfo).name;
  }

  /**
   * The layers that read this layer's output, in execution order. Inside a nested model the
   * readers are its inner layers (named `outer/inner`).
   */
  outbound(name: string): LayerInfo[] {
    this.layer(name);
    return this.infos.filter((l) => l.inbound.includes(name));
  }

  /**
   * The tf.js layer object that computes a layer (its weights and config, as `TapOp.source`), for
   * planning per-layer rules before a call (LRP). Null for the input and for a nested model's own
   * name (its inner layers are `outer/inner`). The tap never changes it: treat it as read-only.
   */
  source(name: string): Layer | null {
    this.layer(name);
    return this.steps.find((s) => s.name === name)?.layer ?? null;
  }

  /** Every layer the tap can read, in execution order (the input first). */
  get layers(): readonly LayerInfo[] {
    return this.infos;
  }

  layerNames(): string[] {
    return this.infos.map((l) => l.name);
  }

  /** The layer with this name, or an `UNKNOWN_LAYER` error that lists the model's layers. */
  layer(name: string): LayerInfo {
    const info = this.infos.find((l) => l.name === name);
    if (!info) {
      throw new CnnXaiError(
        'UNKNOWN_LAYER',
        `The model has no layer "${name}".`,
        `Its layers are: ${listNames(this.layerNames())}.`,
      );
    }
    return info;
  }

  /** Layers with a 4-D output (feature maps), in execution order. */
  spatialLayers(): LayerInfo[] {
    return this.infos.filter((l) => l.index > 0 && l.outputShape.length === 4);
  }

  /**
   * The default layer for CAM methods: the last layer with a 4-D output, or a `NO_CONV_LAYER`
   * error that lists the layers.
   */
  lastSpatialLayer(): LayerInfo {
    const spatial = this.spatialLayers();
    const last = spatial[spatial.length - 1];
    if (!last) {
      throw new CnnXaiError(
        'NO_CONV_LAYER',
        'The model has no layer with a 4-D (feature map) output after its input.',
        `CAM methods need one; the model's layers are: ${listNames(this.infos.map((l) => `${l.name} (${l.className})`))}.`,
      );
    }
    return last;
  }

  /** Checks an input batch against the model's input shape. */
  checkInput(x: tf.Tensor): asserts x is tf.Tensor4D {
    const want = this.inputShape;
    const shapeOk =
      x.rank === want.length + 1 && want.every((d, i) => d === null || d === x.shape[i + 1]);
    if (!shapeOk) {
      throw new CnnXaiError(
        'BAD_INPUT_SHAPE',
        `The input has shape [${x.shape.join(', ')}] but the model takes [N, ${want.map((d) => d ?? '?').join(', ')}].`,
        x.rank === want.length
          ? 'Add a batch dimension (x.expandDims(0)).'
          : 'Resize/convert the image first (core: prepareImage; the CLI does it for image files).',
      );
    }
    if (x.dtype !== 'float32') {
      throw new CnnXaiError('BAD_INPUT_SHAPE', `The input has dtype ${x.dtype}.`, 'Pass float32 values (x.toFloat()).');
    }
  }

  private keyOf(layerName: string): string {
    this.layer(layerName);
    return this.keyByName.get(layerName) as string;
  }

  /** Indices of the steps that depend (transitively) on a value key. */
  private downstream(key: string): Set<number> {
    const cached = this.downstreamCache.get(key);
    if (cached) return cached;
    const tainted = new Set([key]);
    const set = new Set<number>();
    this.steps.forEach((s, i) => {
      if (s.inputs.some((k) => tainted.has(k))) {
        set.add(i);
        s.outputs.forEach((o) => tainted.add(o));
      }
    });
    this.downstreamCache.set(key, set);
    return set;
  }

  private runOp(step: Step, part: 'layer' | 'activation', fn: (xs: tf.Tensor[]) => tf.Tensor, inputs: tf.Tensor[], overrides: readonly BackwardOverride[] | undefined): tf.Tensor {
    if (!overrides?.length) return fn(inputs);
    const op: TapOp = {
      layer: step.name,
      className: step.className,
      part,
      source: step.layer,
      forward: fn,
      ...(part === 'activation' ? { activation: step.kernel.activation } : {}),
    };
    const rule = overrides.find((o) => o.match(op));
    if (!rule) return fn(inputs);
    const wrapped = tf.customGrad((...args: unknown[]) => {
      const save = args[args.length - 1] as tf.GradSaveFunc;
      const xs = args.slice(0, -1) as tf.Tensor[];
      const value = fn(xs);
      save([...xs, value]);
      return {
        value,
        gradFunc: (dy: tf.Tensor | tf.Tensor[], saved: tf.Tensor[]) => {
          const ins = saved.slice(0, -1);
          const out = saved[saved.length - 1] as tf.Tensor;
          const g = rule.backward({ op, inputs: ins, output: out, dy: dy as tf.Tensor });
          return Array.isArray(g) ? g : [g];
        },
      };
    });
    return (wrapped as (...t: tf.Tensor[]) => tf.Tensor)(...inputs);
  }

  private runStep(step: Step, values: Map<string, tf.Tensor>, overrides: readonly BackwardOverride[] | undefined): void {
    const inputs = step.inputs.map((k) => {
      const v = values.get(k);
      if (!v) throw new Error(`cnn-xai internal: value ${k} missing before layer ${step.name}`);
      return v;
    });
    const { kernel } = step;
    let y: tf.Tensor = kernel.pre ? this.runOp(step, 'layer', kernel.pre, inputs, overrides) : (inputs[0] as tf.Tensor);
    if (kernel.activation !== 'linear' && !step.skipActivation) {
      y = this.runOp(step, 'activation', ([z]) => applyActivation(kernel.activation, z as tf.Tensor, step.layer), [y], overrides);
    }
    values.set(step.outputs[0] as string, y);
  }

  /** Runs the given steps in order, skipping those whose output is already known. */
  private execute(values: Map<string, tf.Tensor>, only: Set<number> | null, overrides: readonly BackwardOverride[] | undefined): void {
    this.steps.forEach((s, i) => {
      if (only && !only.has(i)) return;
      if (values.has(s.outputs[0] as string)) return;
      this.runStep(s, values, overrides);
    });
  }

  private assertLive(): void {
    if (this.disposed) throw new CnnXaiError('UNSUPPORTED_MODEL', 'This ModelTap was disposed.', 'Create a new one with ModelTap.from(model).');
  }

  /** The model's output (logits by default) for a batch. */
  predict(x: tf.Tensor): tf.Tensor {
    return this.forward(x).output;
  }

  /**
   * A forward pass that also returns the activations of the named layers.
   * The caller owns every returned tensor.
   */
  forward(
    x: tf.Tensor,
    opts: { fetch?: readonly string[]; overrides?: readonly BackwardOverride[] } = {},
  ): { output: tf.Tensor; activations: Record<string, tf.Tensor> } {
    this.assertLive();
    this.checkInput(x);
    const fetch = [...new Set(opts.fetch ?? [])];
    const keys = fetch.map((n) => this.keyOf(n));
    const [output, ...acts] = tf.tidy(() => {
      const values = new Map<string, tf.Tensor>([[INPUT_KEY, x]]);
      this.execute(values, null, opts.overrides);
      return [values.get(this.outputKey) as tf.Tensor, ...keys.map((k) => values.get(k) as tf.Tensor)].map((t, i, all) =>
        t === x || all.indexOf(t) < i ? t.clone() : t,
      );
    });
    const activations: Record<string, tf.Tensor> = {};
    fetch.forEach((n, i) => (activations[n] = acts[i] as tf.Tensor));
    return { output: output as tf.Tensor, activations };
  }

  /** Activations of the named layers (the caller disposes them). */
  activations(x: tf.Tensor, layerNames: readonly string[]): Record<string, tf.Tensor> {
    const { output, activations } = this.forward(x, { fetch: layerNames });
    output.dispose();
    return activations;
  }

  /**
   * True when the part of the network after `layer` also reads values computed before it
   * other than through `layer` (a skip connection around it): running the head then needs the
   * input as context.
   */
  headNeedsContext(layerName: string): boolean {
    const key = this.keyOf(layerName);
    if (key === INPUT_KEY) return false;
    const down = this.downstream(key);
    const produced = new Set<string>([key]);
    down.forEach((i) => this.steps[i]?.outputs.forEach((o) => produced.add(o)));
    for (const i of down) {
      for (const k of (this.steps[i] as Step).inputs) if (!produced.has(k)) return true;
    }
    return false;
  }

  /**
   * The values outside the head of `layer` that the head reads (skip connections), computed from
   * `x`; kept, so the caller disposes them.
   */
  private headContext(key: string, x: tf.Tensor | undefined, layerName: string): Map<string, tf.Tensor> {
    const down = this.downstream(key);
    const needed = new Set<string>();
    const produced = new Set<string>([key]);
    down.forEach((i) => this.steps[i]?.outputs.forEach((o) => produced.add(o)));
    down.forEach((i) => this.steps[i]?.inputs.forEach((k) => !produced.has(k) && needed.add(k)));
    if (needed.size === 0) return new Map();
    if (!x) {
      throw new CnnXaiError(
        'BAD_INPUT_SHAPE',
        `The network after layer "${layerName}" also reads values from before it (a skip connection).`,
        'Pass the input image as context so the tap can compute them.',
      );
    }
    this.checkInput(x);
    const kept = tf.tidy(() => {
      const values = new Map<string, tf.Tensor>([[INPUT_KEY, x]]);
      const upstream = new Set<number>(this.steps.map((_, i) => i).filter((i) => !down.has(i)));
      this.execute(values, upstream, undefined);
      return [...needed].map((k) => {
        const v = values.get(k) as tf.Tensor;
        return v === x ? v.clone() : v;
      });
    });
    return new Map([...needed].map((k, i) => [k, kept[i] as tf.Tensor]));
  }

  private runHead(
    key: string,
    activation: tf.Tensor,
    context: Map<string, tf.Tensor>,
    overrides: readonly BackwardOverride[] | undefined,
  ): tf.Tensor {
    const n = activation.shape[0] as number;
    const values = new Map<string, tf.Tensor>([[key, activation]]);
    for (const [k, v] of context) {
      const vn = v.shape[0] as number;
      if (vn === n) values.set(k, v);
      else if (vn === 1) values.set(k, tf.tile(v, [n, ...v.shape.slice(1).map(() => 1)]));
      else {
        throw new CnnXaiError('BAD_INPUT_SHAPE', `Context batch ${vn} does not match activation batch ${n}.`, 'Use a context of batch 1 or of the same batch.');
      }
    }
    this.execute(values, this.downstream(key), overrides);
    const out = values.get(this.outputKey) as tf.Tensor;
    return out === activation ? out.clone() : out;
  }

  /**
   * Runs the network from a layer's activation to the output (head-only execution). `context`
   * is the input image, needed only when skip connections go around the layer; its batch may
   * be 1 (broadcast over the activations) or equal to theirs.
   */
  runFrom(
    layerName: string,
    activation: tf.Tensor,
    opts: { context?: tf.Tensor; overrides?: readonly BackwardOverride[] } = {},
  ): tf.Tensor {
    const head = this.head(layerName, opts.context);
    try {
      return head.run(activation, opts.overrides);
    } finally {
      head.dispose();
    }
  }

  /**
   * A reusable head runner: computes the skip-connection context once, then runs the head for
   * many activation batches (Score-CAM, SISE, Integrated Grad-CAM).
   */
  head(layerName: string, context?: tf.Tensor): { run(a: tf.Tensor, overrides?: readonly BackwardOverride[]): tf.Tensor; dispose(): void } {
    this.assertLive();
    const key = this.keyOf(layerName);
    if (key === INPUT_KEY) {
      return { run: (a, overrides) => this.forward(a, { overrides }).output, dispose: () => {} };
    }
    const ctx = this.headContext(key, context, layerName);
    return {
      run: (a, overrides) => tf.tidy(() => this.runHead(key, a, ctx, overrides)),
      dispose: () => ctx.forEach((t) => t.dispose()),
    };
  }

  /**
   * Gradient of the summed per-sample scores with respect to the input (default) or to a layer's
   * activation. Backward overrides apply to this call only.
   */
  gradient(
    x: tf.Tensor,
    score: ScoreFn,
    opts: { layer?: string; overrides?: readonly BackwardOverride[] } = {},
  ): GradientResult {
    this.assertLive();
    this.checkInput(x);
    const key = opts.layer === undefined ? INPUT_KEY : this.keyOf(opts.layer);
    let output: tf.Tensor | undefined;
    let scores: tf.Tensor1D | undefined;
    const capture = (out: tf.Tensor): tf.Scalar => {
      output = tf.keep(out);
      scores = tf.keep(score(out));
      return tf.sum(scores);
    };
    // Kept tensors are handed back as ordinary tracked clones, so callers' scopes own them.
    const release = <T extends tf.Tensor>(t: T): T => {
      const c = t.clone();
      t.dispose();
      return c;
    };
    if (key === INPUT_KEY) {
      const gradient = tf.grad((xin: tf.Tensor) =>
        capture(this.forwardValues(xin, opts.overrides)),
      )(x);
      return { gradient, activation: null, output: release(output as tf.Tensor), scores: release(scores as tf.Tensor1D) };
    }
    const ctx = this.headContext(key, x, opts.layer as string);
    try {
      const activation = tf.tidy(() => {
        const values = new Map<string, tf.Tensor>([[INPUT_KEY, x]]);
        const down = this.downstream(key);
        this.execute(values, new Set(this.steps.map((_, i) => i).filter((i) => !down.has(i))), opts.overrides);
        return values.get(key) as tf.Tensor;
      });
      const gradient = tf.grad((a: tf.Tensor) => capture(this.runHead(key, a, ctx, opts.overrides)))(activation);
      return { gradient, activation, output: release(output as tf.Tensor), scores: release(scores as tf.Tensor1D) };
    } finally {
      ctx.forEach((t) => t.dispose());
    }
  }

  /**
   * Gradients of the summed per-sample scores with respect to several layers' activations, from
   * one forward and one backward pass (SISE). Each gradient is the total derivative at that
   * layer, through every path to the output (also through the other listed layers). The layers
   * that no other listed layer feeds are differentiated directly; the others get an identity
   * whose backward rule records the gradient flowing through it. A listed layer the score does
   * not depend on gets a zero gradient. The caller owns every returned tensor.
   */
  gradients(
    x: tf.Tensor,
    score: ScoreFn,
    opts: { layers: readonly string[]; overrides?: readonly BackwardOverride[] },
  ): MultiGradientResult {
    this.assertLive();
    this.checkInput(x);
    const names = [...new Set(opts.layers)];
    const keys = names.map((n) => this.keyOf(n));
    const unique = [...new Set(keys)];
    // Roots: listed values that no other listed value feeds.
    const roots = unique.filter((k) => !unique.some((o) => o !== k && this.downstream(o).has(this.stepIndexOf(k))));
    const below = new Set<number>();
    roots.forEach((k) => this.downstream(k).forEach((i) => below.add(i)));
    let output: tf.Tensor | undefined;
    let scores: tf.Tensor1D | undefined;
    const kept: tf.Tensor[] = [];
    const keep = <T extends tf.Tensor>(t: T): T => {
      const k = tf.keep(t);
      kept.push(k);
      return k;
    };
    const captured = new Map<string, tf.Tensor>();
    const acts = new Map<string, tf.Tensor>();
    let upstream: ReadonlyArray<readonly [string, tf.Tensor]> = [];
    let grads: tf.Tensor[] = [];
    try {
      // Everything the roots do not feed runs outside the tape (as `gradient` does for one layer);
      // kept: the roots and the values the steps below them read besides (skip connections).
      const produced = new Set<string>(roots);
      below.forEach((i) => this.steps[i]?.outputs.forEach((o) => produced.add(o)));
      const needed = new Set<string>(roots);
      below.forEach((i) => this.steps[i]?.inputs.forEach((k) => !produced.has(k) && needed.add(k)));
      const neededKeys = [...needed];
      const neededValues = tf.tidy(() => {
        const values = new Map<string, tf.Tensor>([[INPUT_KEY, x]]);
        this.execute(values, new Set(this.steps.map((_, i) => i).filter((i) => !below.has(i))), opts.overrides);
        return neededKeys.map((k) => values.get(k) as tf.Tensor);
      });
      upstream = neededKeys.map((k, i) => [k, neededValues[i] as tf.Tensor] as const);
      const hooked = new Set(unique.filter((k) => !roots.includes(k)));
      const hook = (key: string, v: tf.Tensor): tf.Tensor =>
        (tf.customGrad((...args: unknown[]) => ({
          value: tf.clone(args[0] as tf.Tensor),
          gradFunc: (dy: tf.Tensor | tf.Tensor[]) => {
            captured.set(key, keep(tf.clone(dy as tf.Tensor)));
            return dy as tf.Tensor;
          },
        })) as (t: tf.Tensor) => tf.Tensor)(v);
      const rootActs = roots.map((k) => upstream.find(([uk]) => uk === k)?.[1] as tf.Tensor);
      grads = tf.grads((...rs: tf.Tensor[]) => {
        const values = new Map<string, tf.Tensor>(upstream.filter(([k]) => !roots.includes(k)));
        roots.forEach((k, i) => values.set(k, rs[i] as tf.Tensor));
        this.steps.forEach((s, i) => {
          if (!below.has(i) || values.has(s.outputs[0] as string)) return;
          this.runStep(s, values, opts.overrides);
          const key = s.outputs[0] as string;
          if (hooked.has(key)) {
            const v = values.get(key) as tf.Tensor;
            acts.set(key, keep(tf.clone(v)));
            values.set(key, hook(key, v));
          }
        });
        const out = values.get(this.outputKey) as tf.Tensor;
        output = keep(tf.clone(out));
        scores = keep(score(out));
        return tf.sum(scores);
      })(rootActs);
      const gradientByKey = new Map<string, tf.Tensor>();
      roots.forEach((k, i) => gradientByKey.set(k, grads[i] as tf.Tensor));
      const gradients: Record<string, tf.Tensor> = {};
      const activations: Record<string, tf.Tensor> = {};
      names.forEach((n, i) => {
        const k = keys[i] as string;
        const act = roots.includes(k) ? (rootActs[roots.indexOf(k)] as tf.Tensor) : (acts.get(k) as tf.Tensor);
        activations[n] = act.clone();
        const g = gradientByKey.get(k) ?? captured.get(k);
        gradients[n] = g ? g.clone() : tf.zerosLike(act);
      });
      return { gradients, activations, output: (output as tf.Tensor).clone(), scores: (scores as tf.Tensor1D).clone() };
    } finally {
      kept.forEach((t) => t.dispose());
      grads.forEach((g) => g.dispose());
      upstream.forEach(([, v]) => v !== x && v.dispose());
    }
  }

  /** The index of the step that computes a value key (-1 for the input). */
  private stepIndexOf(key: string): number {
    return this.steps.findIndex((s) => s.outputs.includes(key));
  }

  private forwardValues(x: tf.Tensor, overrides: readonly BackwardOverride[] | undefined): tf.Tensor {
    const values = new Map<string, tf.Tensor>([[INPUT_KEY, x]]);
    this.execute(values, null, overrides);
    return values.get(this.outputKey) as tf.Tensor;
  }

  /**
   * Runs `release` when the tap is disposed: for constants a plugin derives from the weights and
   * keeps with the tap across calls (LRP's modified kernels). Runs at once if already disposed.
   */
  onDispose(release: () => void): void {
    if (this.disposed) release();
    else this.releasers.push(release);
  }

  /** Releases the constant tensors the tap derived from the weights (not the model's own). */
  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    for (const s of this.steps) s.kernel.owned.forEach((t) => t.dispose());
    for (const release of this.releasers.splice(0)) release();
  }
}

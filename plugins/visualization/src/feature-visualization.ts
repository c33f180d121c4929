import * as tf from '@tensorflow/tfjs-core';
import {
  CnnXaiError,
  defineExplainer,
  opt,
  yieldToEventLoop,
  type BackwardOverride,
  type ExplainContext,
  type Explainer,
  type Extra,
  type LayerInfo,
  type ModelTap,
} from '@cnn-xai/core';
import {
  evaluateObjectives,
  formatObjectives,
  objectiveLayers,
  parseObjectives,
  resolveObjectives,
  type ObjectiveSpec,
  type ResolvedObjective,
} from './objectives.js';
import { createImageParam, PARAMETERIZATIONS, VALID_MODES } from './param.js';
import { blurTarget, hasRegularizers, penalties, type RegularizerWeights } from './regularizers.js';
import { applyTransform, drawTransform, isIdentity, type TransformOptions } from './transforms.js';

/** What `onStep` receives after each optimisation step. */
export interface FeatureVisualizationStep {
  /** 0-based index of the step just taken. */
  step: number;
  /** Number of steps of the run. */
  steps: number;
  /** The objective of this step (on the transformed images), as in `extras.objective`. */
  objective: number;
  /**
   * The current images [N, H, W, C] in the input range (not transformed). Borrowed: valid only
   * until the hook returns (or its promise settles); clone it to keep it.
   */
  image: tf.Tensor4D;
}

export interface FeatureVisualizationHooks {
  /**
   * Called after every `every`-th step and after the last one, e.g. to draw the images while the
   * optimisation runs. May return a promise (the optimisation waits for it).
   */
  onStep?: (step: FeatureVisualizationStep) => void | Promise<void>;
  /** Call `onStep` every this many steps (default 1). */
  every?: number;
  /**
   * The objective as a list of weighted terms (the API form). When given it replaces the
   * `objective`, `channel`, `objectives` and `diversity` options; `layer` stays the default layer
   * of terms without one.
   */
  objectives?: readonly ObjectiveSpec[];
}

const OBJECTIVES = ['channel', 'neuron', 'class', 'layer'] as const;

function options() {
  return {
    objective: opt.choice({
      default: 'channel',
      choices: OBJECTIVES,
      description:
        'What to maximise: channel (mean of one channel of `layer`), neuron (that channel at the centre), class (the target logit; pass the class as the target), layer (DeepDream: mean squared activation of `layer`).',
    }),
    layer: opt.layer({
      default: undefined,
      description: 'Layer of the objective (and of terms in `objectives` without one); default: the last layer with a 4-D output.',
    }),
    channel: opt.integer({ default: 0, min: 0, description: 'Channel (or unit) of the channel and neuron objectives.' }),
    objectives: opt.string({
      default: '',
      description:
        'Several weighted terms instead of `objective`: type[:layer][:channel][@row,col][*weight], comma-separated, e.g. "channel:conv5:3*1,class:2*0.5,diversity:conv4*10". Types: channel, neuron, class, layer, diversity.',
    }),
    diversity: opt.number({
      default: 0,
      min: 0,
      description: "Weight of Olah et al.'s diversity term (minus the cosine similarity of the images' Gram matrices at the objective's layer); needs images > 1.",
    }),
    images: opt.integer({ default: 0, min: 0, max: 256, description: 'Images to optimise; 0: as many as the input batch.' }),
    steps: opt.integer({ default: 256, min: 0, max: 100000, description: 'Optimisation steps (Adam).' }),
    learningRate: opt.number({ default: 0.05, min: 0, max: 10, description: 'Adam learning rate (Lucid: 0.05).' }),
    redirectRelu: opt.boolean({
      default: true,
      description: "Lucid's redirected ReLU gradient: where a ReLU passes no gradient for a whole image, pass the part that raises its input, so channels inactive at the start can be optimised.",
    }),
    parameterization: opt.choice({
      default: 'fourier',
      choices: PARAMETERIZATIONS,
      description: 'fourier: optimise a 1/f-scaled Fourier spectrum (Lucid fft_image); pixel: optimise the pixels.',
    }),
    decorrelate: opt.boolean({ default: true, description: "Decorrelate colours with Lucid's ImageNet colour matrix (3-channel models; identity otherwise)." }),
    decay: opt.number({ default: 1, min: 0, max: 4, description: 'Power of the 1/frequency scale of the Fourier parameterisation.' }),
    valid: opt.choice({ default: 'sigmoid', choices: VALID_MODES, description: 'How images are kept in the input range: sigmoid, or clip (straight-through gradient).' }),
    init: opt.choice({
      default: 'noise',
      choices: ['noise', 'input'] as const,
      description: 'Start from small random noise (grey images), or from the input images (DeepDream-style).',
    }),
    pad: opt.number({ default: 0.1, min: 0, max: 1, description: 'Transform: padding on each side, as a fraction of the larger image side (Lucid: 12 px of 128).' }),
    jitter: opt.number({ default: 0.06, min: 0, max: 1, description: 'Transform: largest random shift, as a fraction of the larger image side (Lucid: 8 px of 128).' }),
    scale: opt.number({ default: 0.1, min: 0, max: 0.9, description: 'Transform: random scale in [1 - scale, 1 + scale].' }),
    rotate: opt.number({ default: 10, min: 0, max: 180, description: 'Transform: random rotation in [-rotate, rotate] degrees.' }),
    l2: opt.number({ default: 0, min: 0, description: 'Weight of the L2 penalty (mean squared distance from mid-grey, in input ranges).' }),
    tv: opt.number({ default: 0, min: 0, description: 'Weight of the total-variation penalty (mean absolute neighbour difference, in input ranges).' }),
    blur: opt.number({ default: 0, min: 0, description: 'Weight of the blur penalty (distance to a blurred copy, sigma 1 px).' }),
    low: opt.number({ default: 0, description: "Lowest value of the model's input range." }),
    high: opt.number({ default: 1, description: "Highest value of the model's input range." }),
    seed: opt.integer({ default: undefined as unknown as number, min: 0, description: "Seed of the initial noise and the transforms (default: the call's seed)." }),
  };
}

export type FeatureVisualizationSchema = ReturnType<typeof options>;

/**
 * Lucid's `redirected_relu_grad` (render_vis uses it by default): at a ReLU whose plain gradient
 * is zero for a whole image (every unit inactive, as a grey start often leaves a channel), let
 * the gradient through where it pushes the input up, so the optimisation can leave the flat
 * region; elsewhere the plain ReLU gradient. `dy` is the gradient of the loss being minimised.
 */
export const redirectedRelu: BackwardOverride = {
  match: (op) => op.part === 'activation' && op.activation === 'relu',
  backward: ({ inputs, dy }) =>
    tf.tidy(() => {
      const x = inputs[0] as tf.Tensor;
      const n = x.shape[0] as number;
      const relu = tf.mul(dy, tf.cast(tf.greater(x, 0), dy.dtype));
      // Zero where the input is negative and descent would lower it further (dy > 0).
      const redirected = tf.mul(dy, tf.sub(1, tf.cast(tf.logicalAnd(tf.less(x, 0), tf.greater(dy, 0)), dy.dtype)));
      const passes = tf.cast(tf.greater(tf.sum(tf.abs(tf.reshape(relu, [n, -1])), 1), 0), dy.dtype);
      const m = tf.reshape(passes, [n, ...x.shape.slice(1).map(() => 1)]);
      return tf.add(tf.mul(relu, m), tf.mul(redirected, tf.sub(1, m)));
    }),
};

const BETA1 = 0.9;
const BETA2 = 0.999;
const EPSILON = 1e-8;

function defaultLayer(tap: ModelTap, layer: string | string[] | undefined): () => LayerInfo {
  if (Array.isArray(layer)) throw new CnnXaiError('BAD_OPTION_VALUE', 'feature-visualization takes a single layer.', 'Pass one layer name (several terms go in `objectives`).');
  if (layer !== undefined) {
    const info = tap.layer(layer);
    return () => info;
  }
  return () => tap.lastSpatialLayer();
}

/** The objective terms from the hooks or the options. */
function objectiveSpecs(
  o: { objectives: string; objective: ObjectiveSpec['type']; diversity: number },
  hooks: FeatureVisualizationHooks,
): ObjectiveSpec[] {
  if (hooks.objectives) return [...hooks.objectives];
  const text = o.objectives.trim();
  const specs: ObjectiveSpec[] = text ? parseObjectives(text) : [{ type: o.objective }];
  const div = o.diversity;
  if (div > 0) {
    const anchor = specs.find((s) => s.type !== 'class' && s.layer !== undefined);
    specs.push({ type: 'diversity', ...(anchor?.layer !== undefined ? { layer: anchor.layer } : {}), weight: div });
  }
  return specs;
}

/**
 * Adam (Kingma & Ba; TF1's update, as Lucid used): one step on `params` with gradients `grads`
 * of the loss to minimise. Returns the new parameters and moments; the caller disposes the old.
 */
function adamStep(
  params: tf.Tensor[],
  grads: tf.Tensor[],
  m: tf.Tensor[],
  v: tf.Tensor[],
  t: number,
  lr: number,
): { params: tf.Tensor[]; m: tf.Tensor[]; v: tf.Tensor[] } {
  return tf.tidy(() => {
    const lrT = (lr * Math.sqrt(1 - BETA2 ** t)) / (1 - BETA1 ** t);
    const m2 = grads.map((g, i) => tf.add(tf.mul(m[i] as tf.Tensor, BETA1), tf.mul(g, 1 - BETA1)));
    const v2 = grads.map((g, i) => tf.add(tf.mul(v[i] as tf.Tensor, BETA2), tf.mul(tf.square(g), 1 - BETA2)));
    const p2 = params.map((p, i) => tf.sub(p, tf.mul(tf.div(m2[i] as tf.Tensor, tf.add(tf.sqrt(v2[i] as tf.Tensor), EPSILON)), lrT)));
    return { params: p2, m: m2, v: v2 };
  });
}

/**
 * Makes a `feature-visualization` explainer. `featureVisualization` is `createFeatureVisualization()`;
 * make your own to watch the optimisation (`onStep`) or to give the objective as a list
 * (`objectives`): hooks are functions and lists, which the option schema (strings and numbers,
 * shared with the CLI and the site's controls) cannot carry. The explainer keeps the id
 * `feature-visualization`; pass it to `explain()` directly rather than registering it next to the
 * default one.
 */
export function createFeatureVisualization(hooks: FeatureVisualizationHooks = {}): Explainer<FeatureVisualizationSchema> {
  const every = Math.max(1, Math.floor(hooks.every ?? 1));
  return defineExplainer({
    id: 'feature-visualization',
    name: 'Feature visualization',
    family: 'visualization',
    kind: 'visualization',
    description:
      "Optimises images to maximise a unit, channel, layer or class of the model (Olah et al. 2017, after Lucid): Fourier-parameterised, colour-decorrelated images through random pad/jitter/scale/rotate transforms, with Adam. Returns the images ([N, H, W, C] in the input range), not an attribution map; the input only sets their number and size (or their start, with init=input).",
    paper: {
      title: 'Feature Visualization',
      authors: 'Chris Olah, Alexander Mordvintsev, Ludwig Schubert',
      year: 2017,
      url: 'https://distill.pub/2017/feature-visualization/',
    },
    requires: { gradients: true, layer: 'any' },
    options: options(),
    async explain(x, ctx: ExplainContext, o) {
      const tap = ctx.tap;
      const low = o.low;
      const high = o.high;
      if (!(high > low)) {
        throw new CnnXaiError('BAD_OPTION_VALUE', `The input range [${low}, ${high}] is empty.`, 'Give low < high (the range the model was trained on).');
      }
      const layerDefault = defaultLayer(tap, o.layer);
      const shape = tap.model.outputs[0]?.shape;
      const numClasses = typeof shape?.[shape.length - 1] === 'number' ? (shape[shape.length - 1] as number) : null;
      const objs: ResolvedObjective[] = resolveObjectives(tap, objectiveSpecs(o, hooks), { layer: layerDefault, channel: o.channel, numClasses });
      const fetch = objectiveLayers(objs);
      const nIn = x.shape[0];
      const n = o.images > 0 ? o.images : nIn;
      const [, h, w, c] = x.shape;
      const rows = Array.from({ length: n }, (_, i) => i % nIn);
      const side = Math.max(h, w);
      const topts: TransformOptions = {
        pad: Math.round(o.pad * side),
        jitter: Math.round(o.jitter * side),
        scale: o.scale,
        rotate: o.rotate,
        fill: (low + high) / 2,
      };
      const identity = isIdentity(topts);
      const overrides = [redirectedRelu];
      const reg: RegularizerWeights = { l2: o.l2, tv: o.tv, blur: o.blur };
      const useReg = hasRegularizers(reg);
      const initRandom = ctx.random.fork();
      const transformRandom = ctx.random.fork();
      ctx.throwIfAborted();

      const start =
        o.init === 'input'
          ? (tf.tidy(() => (n === nIn ? x.clone() : tf.gather(x, tf.tensor1d(rows, 'int32')))) as tf.Tensor4D)
          : undefined;
      const param = createImageParam(
        [n, h, w, c],
        { parameterization: o.parameterization, decorrelate: o.decorrelate, valid: o.valid, decay: o.decay, low, high },
        initRandom,
        start,
      );
      start?.dispose();
      let params = param.params;
      let m = params.map((p) => tf.zerosLike(p));
      let v = params.map((p) => tf.zerosLike(p));

      /** Objective per image and the batch term on untransformed images (no gradient). */
      const measure = async (): Promise<{ perImage: number[]; batch: number }> => {
        const [per, batch] = tf.tidy(() => {
          const img = param.image(params);
          const { output, activations } = tap.forward(img, { fetch });
          const r = evaluateObjectives(objs, activations, output, ctx.target, rows);
          return [r.perImage, r.batch];
        });
        const out = { perImage: Array.from((await (per as tf.Tensor).data()) as Float32Array), batch: (await (batch as tf.Tensor).data())[0] as number };
        tf.dispose([per as tf.Tensor, batch as tf.Tensor]);
        return out;
      };

      const history: number[] = [];
      try {
        const initial = await measure();
        for (let step = 0; step < o.steps; step++) {
          ctx.throwIfAborted();
          const draw = identity ? null : drawTransform(topts, transformRandom);
          const blurred = useReg && reg.blur > 0 ? tf.tidy(() => blurTarget(param.image(params))) : null;
          let objective: tf.Tensor | null = null;
          const grads = tf.tidy(() =>
            tf.grads((...ps: tf.Tensor[]) => {
              const img = param.image(ps);
              const t = draw ? applyTransform(img, topts, draw) : img;
              const { output, activations } = tap.forward(t, { fetch, ...(o.redirectRelu ? { overrides } : {}) });
              const { perImage, batch } = evaluateObjectives(objs, activations, output, ctx.target, rows);
              objective = tf.keep(tf.add(tf.mean(perImage), batch));
              let total: tf.Tensor = tf.add(tf.sum(perImage), tf.mul(batch, n));
              if (useReg) total = tf.sub(total, tf.sum(penalties(img, reg, { low, high }, blurred)));
              return tf.neg(total) as tf.Scalar;
            })(params),
          );
          blurred?.dispose();
          const next = adamStep(params, grads, m, v, step + 1, o.learningRate);
          tf.dispose([...grads, ...params, ...m, ...v]);
          ({ params, m, v } = next);
          const value = (await (objective as unknown as tf.Tensor).data())[0] as number;
          (objective as unknown as tf.Tensor).dispose();
          history.push(value);
          if (hooks.onStep && (step % every === every - 1 || step === o.steps - 1)) {
            const image = param.image(params);
            try {
              await hooks.onStep({ step, steps: o.steps, objective: value, image });
            } finally {
              image.dispose();
            }
          }
          ctx.progress((step + 1) / o.steps);
          await yieldToEventLoop();
        }
        ctx.throwIfAborted();
        const final = await measure();
        const values = param.image(params);
        const hasDiversity = objs.some((t) => t.type === 'diversity');
        const extras: Record<string, Extra> = {
          objective: history,
          initialObjective: initial.perImage,
          finalObjective: final.perImage,
          objectives: formatObjectives(
            objs.map((t) => ({
              type: t.type,
              ...(t.layer ? { layer: t.layer.name } : {}),
              ...(t.channel !== null ? { channel: t.channel } : {}),
              ...(t.position ? { position: t.position } : {}),
              weight: t.weight,
            })),
          ),
        };
        if (hasDiversity) {
          extras['initialDiversity'] = initial.batch;
          extras['finalDiversity'] = final.batch;
        }
        const classes = ctx.target.classes;
        return {
          values,
          signed: low < 0,
          ...(fetch.length ? { layer: fetch.length === 1 ? (fetch[0] as string) : fetch } : {}),
          ...(n !== nIn ? { target: classes ? rows.map((r) => classes[r] as number) : null } : {}),
          extras,
        };
      } finally {
        tf.dispose([...params, ...m, ...v]);
        param.dispose();
      }
    },
  });
}

/** Feature visualization with no hooks (the registered explainer). */
export const featureVisualization = createFeatureVisualization();

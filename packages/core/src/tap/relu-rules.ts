import * as tf from '@tensorflow/tfjs-core';
import { CnnXaiError } from '../errors.js';
import type { BackwardOverride, TapOp } from './tap.js';

/**
 * The ReLUs whose backward rule guided backprop and deconvnet replace: every plain `relu`
 * activation the tap runs, whether it ends a Conv2D/Dense layer (`activation: 'relu'`) or is a
 * layer of its own (`Activation('relu')`, a `ReLU` layer without maxValue, negativeSlope or
 * threshold). Like Captum, which hooks `nn.ReLU` modules only, other rectifiers (relu6, capped
 * or leaky ReLU layers) keep their plain gradient.
 */
export function isRelu(op: TapOp): boolean {
  return op.part === 'activation' && op.activation === 'relu';
}

/**
 * Guided backpropagation's rule at a ReLU (Springenberg et al. 2014): the plain ReLU gradient,
 * then only its positive part is passed on: dx = dy * 1[x > 0] * 1[dy > 0]. This is Captum's
 * GuidedBackprop (relu of the ReLU's input gradient).
 */
export const guidedReluRule: BackwardOverride = {
  match: isRelu,
  backward: ({ inputs, dy }) =>
    tf.tidy(() => {
      const x = inputs[0] as tf.Tensor;
      return tf.relu(tf.mul(dy, tf.cast(tf.greater(x, 0), dy.dtype)));
    }),
};

/**
 * The deconvnet's rule at a ReLU (Zeiler & Fergus 2014): the signal coming back is rectified
 * regardless of the forward input: dx = relu(dy). This is Captum's Deconvolution.
 */
export const deconvReluRule: BackwardOverride = {
  match: isRelu,
  backward: ({ dy }) => tf.relu(dy),
};

/**
 * Backward rules known by name, so that worker threads can apply them too (a function cannot
 * travel to a worker; a name can): `ctx.inputGradient(x, rows, { rule: 'guided-relu' })`.
 */
export const NAMED_RULES = {
  'guided-relu': [guidedReluRule],
  'deconv-relu': [deconvReluRule],
} as const satisfies Record<string, readonly BackwardOverride[]>;

export type NamedRule = keyof typeof NAMED_RULES;

export function namedRule(name: string): readonly BackwardOverride[] {
  const rule = (NAMED_RULES as Record<string, readonly BackwardOverride[]>)[name];
  if (!rule) {
    throw new CnnXaiError('BAD_OPTION_VALUE', `Unknown backward rule "${name}".`, `Use one of ${Object.keys(NAMED_RULES).join(', ')}, or pass overrides to ctx.tap.gradient.`);
  }
  return rule;
}

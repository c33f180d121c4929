import * as tf from '@tensorflow/tfjs-core';
import { batchRanges, yieldToEventLoop, type ExplainContext, type NamedRule } from '@cnn-xai/core';

/**
 * Input gradients of the target score for a batch of images, `batchSize` images per pass,
 * through `ctx.inputGradient` (split between worker threads when the call has them). Shared by
 * the gradient explainers; `rule` names the ReLU rule of guided backprop or the deconvnet.
 */
export async function inputGradients(
  x: tf.Tensor4D,
  ctx: ExplainContext,
  batchSize: number,
  rule?: NamedRule,
): Promise<tf.Tensor> {
  const n = x.shape[0];
  const parts: tf.Tensor[] = [];
  let result: tf.Tensor | null = null;
  try {
    for (const [s, e] of batchRanges(n, batchSize)) {
      ctx.throwIfAborted();
      const rows = Array.from({ length: e - s }, (_, i) => s + i);
      const xb = s === 0 && e === n ? x : tf.slice(x, [s, 0, 0, 0], [e - s, -1, -1, -1]);
      try {
        parts.push(await ctx.inputGradient(xb, rows, rule ? { rule } : {}));
      } finally {
        if (xb !== x) xb.dispose();
      }
      ctx.progress(e / n);
      await yieldToEventLoop();
    }
    result = parts.length === 1 ? (parts[0] as tf.Tensor) : tf.concat(parts, 0);
    return result;
  } finally {
    parts.forEach((p) => p !== result && p.dispose());
  }
}

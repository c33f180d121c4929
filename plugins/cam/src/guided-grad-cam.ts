import * as tf from '@tensorflow/tfjs-core';
import {
  CnnXaiError,
  defineExplainer,
  opt,
  resizeBilinear,
  resizeNearest,
  resolveOptions,
  type AnyExplainer,
  type AttributionResult,
  type ExplainContext,
  type Extra,
} from '@cnn-xai/core';
import { camLayer } from './cam-base.js';
import { gradCam } from './grad-cam.js';

export const UPSAMPLE_MODES = ['bilinear', 'nearest'] as const;

/** Options of `explainer` among `given` (those it does not declare are left out), resolved by core. */
function optionsFor(explainer: AnyExplainer, given: Record<string, unknown>): Record<string, unknown> {
  const known = Object.fromEntries(Object.entries(given).filter(([k]) => k in explainer.options));
  return resolveOptions(explainer.id, explainer.options, known) as Record<string, unknown>;
}

/** The context with progress mapped from [0, 1] to [from, to]. */
function progressSlice(ctx: ExplainContext, from: number, to: number): ExplainContext {
  return { ...ctx, progress: (f) => ctx.progress(from + (to - from) * Math.min(1, Math.max(0, f))) };
}

/** Every tensor of a result (values and extras, one level deep). */
function disposeResult(r: AttributionResult | undefined, keep?: tf.Tensor): void {
  if (!r) return;
  const tensors = [r.values, ...Object.values(r.extras).filter((v: Extra): v is tf.Tensor => v instanceof tf.Tensor)];
  for (const t of tensors) if (t !== keep && !t.isDisposed) t.dispose();
}

/**
 * Guided Grad-CAM (Selvaraju et al. 2017): the guided-backpropagation map [N,H,W,C] times the
 * rectified Grad-CAM map of a layer, upsampled to the input and broadcast over the channels.
 * It composes two explainers found in the context's registry (DESIGN.md section 1: through the
 * registry, not through imports): `guided-backprop` (from @cnn-xai/plugin-gradient; without it
 * the call fails with UNKNOWN_EXPLAINER) and `grad-cam` (this plugin's own when the registry has
 * none). `upsample: 'bilinear'` (default) is the paper's; `'nearest'` is Captum's GuidedGradCam.
 * Extras: `layerMap`, the rectified Grad-CAM map at the layer's resolution.
 */
export const guidedGradCam = defineExplainer({
  id: 'guided-grad-cam',
  name: 'Guided Grad-CAM',
  family: 'cam',
  kind: 'cam',
  description:
    'Guided backpropagation (fine, edge-like detail) multiplied pixel by pixel with the upsampled, rectified Grad-CAM map of a layer (which regions are class-specific).',
  paper: {
    title: 'Grad-CAM: Visual Explanations from Deep Networks via Gradient-based Localization',
    authors: 'Selvaraju, Cogswell, Das, Vedantam, Parikh, Batra',
    year: 2017,
    url: 'https://arxiv.org/abs/1610.02391',
  },
  // Guided backprop overrides the ReLU backward rule, so the layer graph is needed too.
  requires: { gradients: true, layer: 'conv', graph: true },
  options: {
    layer: opt.layer({ default: undefined, multiple: false, description: "Layer whose Grad-CAM map is used (default: the last layer with a 4-D output)." }),
    upsample: opt.choice({
      default: 'bilinear',
      choices: UPSAMPLE_MODES,
      description: "How Grad-CAM's map is brought to the input size: bilinear (half-pixel centres, the paper) or nearest (Captum's GuidedGradCam).",
    }),
    batchSize: opt.integer({ default: 32, min: 1, max: 4096, description: 'Images per forward/backward pass (for both parts).' }),
  },
  async explain(x, ctx, o) {
    // Resolve the layer before any work, so a bad name fails fast.
    const layer = camLayer(ctx.tap, o.layer);
    if (!ctx.registry.has('guided-backprop')) {
      throw new CnnXaiError(
        'UNKNOWN_EXPLAINER',
        'guided-grad-cam needs the explainer "guided-backprop", which is not registered.',
        "Register @cnn-xai/plugin-gradient in the same registry (import { register } from '@cnn-xai/plugin-gradient'; register(registry)).",
      );
    }
    const guided = ctx.registry.get('guided-backprop');
    const cam = ctx.registry.has('grad-cam') ? ctx.registry.get('grad-cam') : gradCam;
    const guidedOptions = optionsFor(guided, { batchSize: o.batchSize });
    const camOptions = optionsFor(cam, { layer: layer.name, relu: true, batchSize: o.batchSize });
    let gb: AttributionResult | undefined;
    let gc: AttributionResult | undefined;
    try {
      gb = await guided.explain(x, progressSlice(ctx, 0, 0.5), guidedOptions);
      ctx.throwIfAborted();
      gc = await cam.explain(x, progressSlice(ctx, 0.5, 1), camOptions);
      const layerMap = gc.extras['layerMap'];
      if (!(layerMap instanceof tf.Tensor) || layerMap.rank !== 3) {
        throw new CnnXaiError('UNSUPPORTED_MODEL', `The registered "${cam.id}" gave no layer-resolution map (extras.layerMap [N,h,w]).`, "Register this plugin's grad-cam.");
      }
      const size: [number, number] = [x.shape[1], x.shape[2]];
      const gbValues = gb.values;
      const values = tf.tidy(() => {
        const up = o.upsample === 'nearest' ? resizeNearest(layerMap, size) : resizeBilinear(layerMap, size);
        return tf.mul(gbValues, gbValues.rank === 4 ? tf.expandDims(up, -1) : up);
      });
      disposeResult(gc, layerMap);
      gc = undefined;
      return { values, signed: true, layer: layer.name, extras: { layerMap } };
    } finally {
      disposeResult(gb);
      disposeResult(gc);
    }
  },
});

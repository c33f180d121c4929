/**
 * The settings `cnn-xai bench` runs each explainer with, and the PyTorch call each is compared
 * with. Where the reference maps of `fixtures/reference/fashion-cnn-torch` (settings.json) were
 * made by Captum, pytorch-grad-cam or Zennit, the options reproduce that call, so the two sides do
 * the same work; elsewhere the explainer's defaults (or a stated, cheaper sample count) are used.
 * `--set` overrides any of them. Batch sizes (`batchSize`) stay at the explainers' defaults: they
 * change the speed, not the result.
 */
export interface BenchSetting {
  /** Options given to `explain` (before `--set`). */
  options: Record<string, unknown>;
  /** The reference library call these settings match, or why there is none. */
  reference: string;
  /**
   * The key of the PyTorch equivalent in fixtures/scripts/bench_torch.py (the explainer id), or
   * null when the script has none.
   */
  torch: string | null;
}

const GRID = { features: 'grid', grid: 7, baseline: 'zeros' } as const;
const CAM_LAYER = 'layer conv5 (auto) = relu5';

export const BENCH_SETTINGS: Readonly<Record<string, BenchSetting>> = {
  gradient: { options: {}, reference: 'Captum Saliency(abs=False)', torch: 'gradient' },
  'gradient-x-input': { options: {}, reference: 'Captum InputXGradient', torch: 'gradient-x-input' },
  'integrated-gradients': {
    options: { steps: 50, rule: 'gauss-legendre', baseline: 'zeros' },
    reference: "Captum IntegratedGradients(n_steps=50, method='gausslegendre', baselines=0)",
    torch: 'integrated-gradients',
  },
  smoothgrad: {
    options: { base: 'gradient', mode: 'smoothgrad', samples: 50, noise: 0.15 },
    reference: 'Captum NoiseTunnel(Saliency), nt_samples=50, stdevs=0.15',
    torch: 'smoothgrad',
  },
  'guided-backprop': { options: {}, reference: 'Captum GuidedBackprop', torch: 'guided-backprop' },
  deconvnet: { options: {}, reference: 'Captum Deconvolution', torch: 'deconvnet' },
  'gradient-shap': {
    options: { samples: 5, noise: 0, baseline: 'zeros' },
    reference: 'Captum GradientShap defaults (n_samples=5, stdevs=0), zero baseline (no reference map)',
    torch: 'gradient-shap',
  },
  'grad-cam': { options: {}, reference: `pytorch-grad-cam GradCAM, ${CAM_LAYER}`, torch: 'grad-cam' },
  cam: { options: {}, reference: 'CAM (Zhou 2016): no library call; forward + dense weights', torch: 'cam' },
  'grad-cam-plus-plus': { options: {}, reference: `pytorch-grad-cam GradCAMPlusPlus, ${CAM_LAYER}`, torch: 'grad-cam-plus-plus' },
  'xgrad-cam': { options: {}, reference: `pytorch-grad-cam XGradCAM, ${CAM_LAYER}`, torch: 'xgrad-cam' },
  'hires-cam': { options: {}, reference: `pytorch-grad-cam HiResCAM, ${CAM_LAYER}`, torch: 'hires-cam' },
  'layer-cam': { options: {}, reference: `pytorch-grad-cam LayerCAM, ${CAM_LAYER}`, torch: 'layer-cam' },
  'score-cam': { options: {}, reference: `pytorch-grad-cam ScoreCAM (batch_size 128), ${CAM_LAYER}`, torch: 'score-cam' },
  'ablation-cam': { options: {}, reference: `pytorch-grad-cam AblationCAM (batch_size 128), ${CAM_LAYER}`, torch: 'ablation-cam' },
  'eigen-cam': { options: {}, reference: `pytorch-grad-cam EigenCAM, ${CAM_LAYER}`, torch: 'eigen-cam' },
  'integrated-grad-cam': { options: { steps: 50 }, reference: 'no library counterpart (50 steps, as IG)', torch: null },
  'guided-grad-cam': {
    options: { upsample: 'nearest' },
    reference: "Captum GuidedGradCam(interpolate_mode='nearest'), layer relu5",
    torch: 'guided-grad-cam',
  },
  lrp: {
    options: { composite: 'epsilon-plus', start: 'one-hot' },
    reference: 'Zennit Gradient + EpsilonPlus(epsilon=1e-6), one-hot output',
    torch: 'lrp',
  },
  occlusion: {
    options: { window: 4, stride: 2, baseline: 'zeros' },
    reference: 'Captum Occlusion(sliding_window_shapes=(1,4,4), strides=(1,2,2), baselines=0, perturbations_per_eval=32)',
    torch: 'occlusion',
  },
  rise: {
    options: { samples: 2000, cells: 7, p: 0.5 },
    reference: 'RISE (Petsiuk 2018), 2000 masks of 7x7 cells (no library; default is 4000)',
    torch: 'rise',
  },
  sise: { options: {}, reference: 'no library counterpart (defaults)', torch: null },
  'ada-sise': { options: {}, reference: 'no library counterpart (defaults)', torch: null },
  lime: {
    options: { ...GRID, samples: 200, kernelWidth: 1, distance: 'pixels', alpha: 0.01 },
    reference:
      'Captum Lime(n_samples=200, 16 superpixels of 7x7, baselines=0, perturbations_per_eval=50), exp kernel width 1 on cosine distance, Lasso alpha 0.01',
    torch: 'lime',
  },
  'kernel-shap': {
    options: { ...GRID, samples: 198 },
    reference: 'Captum KernelShap(n_samples=200, 16 superpixels of 7x7, baselines=0, perturbations_per_eval=50): 198 coalitions + empty + full',
    torch: 'kernel-shap',
  },
};

/** The bench settings of an explainer, or its defaults when the table does not list it. */
export function benchSetting(id: string): BenchSetting {
  return BENCH_SETTINGS[id] ?? { options: {}, reference: 'not in the bench settings table (explainer defaults)', torch: null };
}

/** `key=value` list of options, for the settings table. */
export function formatOptions(options: Record<string, unknown>): string {
  const parts = Object.entries(options).map(([k, v]) => `${k}=${Array.isArray(v) ? v.join(',') : String(v)}`);
  return parts.length ? parts.join(' ') : '(defaults)';
}

/**
 * The chapters, in the paper's order. Each names the explainers its live demo offers (by id or
 * family); whatever of those the registry holds appears, the rest get a "not available" note.
 */
export interface Chapter {
  slug: string;
  title: string;
  short: string;
  summary: string;
  demo: { ids?: string[]; families?: string[]; exclude?: string[]; all?: boolean; initial?: string; curves?: boolean; preferModel?: string };
}

export const CHAPTERS: readonly Chapter[] = [
  {
    slug: 'saliency',
    title: 'Saliency maps and gradients',
    short: 'Saliency',
    summary: 'How much does each pixel move the class score? The gradient, gradient × input, SmoothGrad, guided backpropagation and deconvnet.',
    demo: { families: ['gradient'], exclude: ['integrated-gradients', 'gradient-shap'], initial: 'gradient' },
  },
  {
    slug: 'grad-cam',
    title: 'Grad-CAM, CAM and the CAM family',
    short: 'Grad-CAM',
    summary: 'Weight the feature maps of a convolutional layer by how much the class needs them: CAM, Grad-CAM, Grad-CAM++, Score-CAM, Integrated Grad-CAM and more.',
    demo: { families: ['cam'], initial: 'grad-cam' },
  },
  {
    slug: 'integrated-gradients',
    title: 'Integrated Gradients',
    short: 'Integrated Gradients',
    summary: 'Accumulate gradients along a path from a baseline to the image, so the attributions add up to the change in the score.',
    demo: { ids: ['integrated-gradients', 'integrated-grad-cam'], initial: 'integrated-gradients' },
  },
  {
    slug: 'lrp',
    title: 'Layer-wise Relevance Propagation',
    short: 'LRP',
    summary: 'Redistribute the class score backwards, layer by layer, with rules that conserve it.',
    demo: { families: ['lrp'] },
  },
  {
    slug: 'lime',
    title: 'LIME and occlusion',
    short: 'LIME',
    summary: 'Hide parts of the image, watch the score, and fit a simple model that explains the changes.',
    demo: { ids: ['lime', 'occlusion'] },
  },
  {
    slug: 'shap',
    title: 'SHAP',
    short: 'SHAP',
    summary: 'Shapley values from cooperative game theory: a fair split of the score among image regions.',
    demo: { ids: ['kernel-shap', 'gradient-shap'] },
  },
  {
    slug: 'feature-visualization',
    title: 'Feature visualization',
    short: 'Feature visualization',
    summary: 'What does a unit respond to? Optimise an input to excite it, or look at its activation maps.',
    demo: { ids: ['feature-visualization', 'activation-maps'] },
  },
  {
    slug: 'attention',
    title: 'Attention',
    short: 'Attention',
    summary: 'When the network has an attention gate, its weights are a map the model computed itself.',
    demo: { ids: ['attention'], preferModel: 'attention' },
  },
  {
    slug: 'sise',
    title: 'SISE and Ada-SISE',
    short: 'SISE',
    summary: 'Semantic input sampling: use the network’s own feature maps as masks, picked by gradients, and fuse the layers.',
    demo: { ids: ['sise', 'ada-sise', 'rise'] },
  },
  {
    slug: 'evaluation',
    title: 'Evaluating explanations',
    short: 'Evaluation',
    summary: 'Deletion and insertion curves, pointing games and sanity checks: how to tell a faithful map from a pretty one.',
    demo: { all: true, initial: 'grad-cam', curves: true },
  },
];

export const chapter = (slug: string): Chapter => {
  const c = CHAPTERS.find((x) => x.slug === slug);
  if (!c) throw new Error(`no chapter ${slug}`);
  return c;
};

import { describeExplainer } from '@cnn-xai/testing';
import { adaSise, sise } from './index.js';

// A small batchSize so that an image's masks take several forward passes (and batches span layers).
const models = ['tinyVgg', 'tinyResnet', 'tinyMobilenet', 'tinyBranchy', 'tinyNested'] as const;
describeExplainer(sise, { models: [...models], explainOptions: { batchSize: 3 } });
describeExplainer(adaSise, { models: [...models], explainOptions: { batchSize: 3 } });
describeExplainer(sise, { models: ['tinyResnet'], explainOptions: { fusion: 'soft-otsu', scores: 'logit', mu: 0.3, layer: 'stem_act,block2_out', batchSize: 5 }, backends: ['wasm'] });

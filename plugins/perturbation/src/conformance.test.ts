import { describeExplainer } from '@cnn-xai/testing';
import { occlusion, rise } from './index.js';

// Both explainers need only scores: every check runs on each model and on the same model seen as
// a black box (an async scores function that gets batches in chunks of 5). Small settings keep it fast.
const models = ['tinyVgg', 'tinyResnet', 'tinyMobilenet'] as const;
describeExplainer(occlusion, { models, blackBox: true, explainOptions: { window: 3, stride: 2, batchSize: 7 } });
describeExplainer(occlusion, { models: ['tinyResnet'], blackBox: 'only', backends: ['wasm'], explainOptions: { baseline: 'blur', batchSize: 50 } });
describeExplainer(rise, { models, blackBox: true, explainOptions: { samples: 12, cells: 3, batchSize: 5 } });
describeExplainer(rise, { models: ['tinyVgg'], blackBox: true, backends: ['wasm'], explainOptions: { samples: 10, scores: 'logit', normalization: 'realized' } });

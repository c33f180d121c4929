import { describeExplainer } from '@cnn-xai/testing';
import { kernelShap, lime } from './index.js';

// Few samples and grid cells of 4 pixels (16 or 9 features on the test models) keep the suite
// fast; SLIC features run in the black-box-only pass below and in surrogate.test.ts.
const models = ['tinyVgg', 'tinyResnet', 'tinyMobilenet'] as const;
describeExplainer(lime, { models, blackBox: true, explainOptions: { samples: 16, features: 'grid', grid: 4, batchSize: 12 } });
describeExplainer(kernelShap, { models, blackBox: true, explainOptions: { samples: 14, features: 'grid', grid: 4, batchSize: 12 } });
describeExplainer(lime, {
  models: ['tinyResnet'],
  blackBox: 'only',
  backends: ['wasm'],
  explainOptions: { samples: 12, features: 'slic', segments: 8, baseline: 'segment-mean', distance: 'pixels' },
});

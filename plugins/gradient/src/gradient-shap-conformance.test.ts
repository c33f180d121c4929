import { describeExplainer } from '@cnn-xai/testing';
import { gradientShap } from './gradient-shap.js';

// batchSize 4 with 3 samples: batches hold samples of both images.
describeExplainer(gradientShap, { models: ['tinyVgg', 'tinyResnet', 'tinyMobilenet'], explainOptions: { samples: 3, batchSize: 4 } });
describeExplainer(gradientShap, { models: ['tinyNested'], explainOptions: { samples: 2, noise: 0.1, baseline: 'uniform' } });

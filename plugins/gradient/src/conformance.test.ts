import { describeExplainer } from '@cnn-xai/testing';
import { gradient, gradientXInput, integratedGradients } from './index.js';

describeExplainer(gradient, { models: ['tinyVgg', 'tinyResnet', 'tinyMobilenet', 'tinyNested'] });
describeExplainer(gradientXInput);
// Few path points keep the suite fast; the rule and baseline are exercised in gradient.test.ts.
describeExplainer(integratedGradients, { explainOptions: { steps: 6, batchSize: 5 } });

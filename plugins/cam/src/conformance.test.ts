import { describeExplainer } from '@cnn-xai/testing';
import { gradCam } from './index.js';

describeExplainer(gradCam, { models: ['tinyVgg', 'tinyResnet', 'tinyMobilenet', 'tinyBranchy', 'tinyNested'] });
describeExplainer(gradCam, { models: ['tinyResnet'], explainOptions: { relu: false } });

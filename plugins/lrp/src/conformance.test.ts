import { describeExplainer } from '@cnn-xai/testing';
import { lrp } from './index.js';

// Every generated architecture: BatchNorm + residual adds (tinyResnet), depthwise and separable
// convs with BatchNorm (tinyMobilenet), concatenation, padding, average pooling, flatten and
// dropout (tinyBranchy), a nested model (tinyNested).
describeExplainer(lrp, { models: ['tinyVgg', 'tinyResnet', 'tinyMobilenet', 'tinyBranchy', 'tinyNested'] });

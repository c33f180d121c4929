import { describeExplainer } from '@cnn-xai/testing';
import { ablationCam, cam, eigenCam, gradCam, gradCamPlusPlus, hiResCam, layerCam, scoreCam, xGradCam } from './index.js';

describeExplainer(gradCam, { models: ['tinyVgg', 'tinyResnet', 'tinyMobilenet', 'tinyBranchy', 'tinyNested'] });
describeExplainer(gradCam, { models: ['tinyResnet'], explainOptions: { relu: false } });
// A layer list (maps scaled per layer, upsampled and averaged).
describeExplainer(gradCam, { models: ['tinyVgg'], explainOptions: { layer: ['conv2', 'conv3'] } });

// CAM needs a GAP + dense head: the models that have one (tinyBranchy has not: NOT_A_CAM_MODEL, see cam-family.test.ts).
describeExplainer(cam, { models: ['tinyVgg', 'tinyResnet', 'tinyMobilenet', 'tinyNested'] });
describeExplainer(gradCamPlusPlus, { models: ['tinyVgg', 'tinyResnet', 'tinyBranchy'] });
describeExplainer(xGradCam, { models: ['tinyVgg', 'tinyResnet', 'tinyBranchy'] });
describeExplainer(hiResCam, { models: ['tinyVgg', 'tinyResnet', 'tinyBranchy'], explainOptions: { relu: false } });
describeExplainer(layerCam, { models: ['tinyVgg', 'tinyResnet', 'tinyNested'] });
describeExplainer(layerCam, { models: ['tinyVgg'], explainOptions: { layer: 'conv1,conv3', relu: false } });
// Score-CAM and Ablation-CAM: a small batchSize so that the channels take several passes.
describeExplainer(scoreCam, { models: ['tinyVgg', 'tinyResnet', 'tinyMobilenet'], explainOptions: { batchSize: 3 } });
describeExplainer(ablationCam, { models: ['tinyVgg', 'tinyResnet', 'tinyBranchy'], explainOptions: { batchSize: 3 } });
describeExplainer(ablationCam, { models: ['tinyResnet'], explainOptions: { layer: 'block2_bn_b', batchSize: 5 } });
describeExplainer(eigenCam, { models: ['tinyVgg', 'tinyResnet', 'tinyMobilenet', 'tinyBranchy', 'tinyNested'] });

import { createRegistry } from '@cnn-xai/core';
import { register as registerGradient } from '@cnn-xai/plugin-gradient';
import { describeExplainer } from '@cnn-xai/testing';
import { guidedGradCam, integratedGradCam, register } from './index.js';

// Few path points keep the suite fast; batches of 5 points straddle the two images.
describeExplainer(integratedGradCam, { models: ['tinyVgg', 'tinyResnet', 'tinyMobilenet', 'tinyNested'], explainOptions: { steps: 6, batchSize: 5 } });
// The signed map, a layer list, another rule and another baseline.
describeExplainer(integratedGradCam, {
  models: ['tinyVgg'],
  explainOptions: { steps: 4, rule: 'gauss-legendre', relu: false, layer: 'conv2,conv3', baseline: 'blur', batchSize: 3 },
});
// A seeded random baseline: deterministic, but drawn for the whole batch from one stream.
describeExplainer(integratedGradCam, {
  models: ['tinyVgg'],
  backends: ['wasm'],
  explainOptions: { steps: 4, baseline: 'uniform', seed: 5 },
  skipBatchEquality: 'the uniform baseline is drawn for the whole batch from one seeded stream, so an image explained alone gets other noise',
});

// Guided Grad-CAM finds guided-backprop (plugin-gradient) and grad-cam in the registry.
const registry = registerGradient(register(createRegistry()));
describeExplainer(guidedGradCam, { registry, models: ['tinyVgg', 'tinyResnet', 'tinyMobilenet', 'tinyNested'] });
describeExplainer(guidedGradCam, { registry, models: ['tinyVgg'], explainOptions: { upsample: 'nearest', layer: 'conv2', batchSize: 1 } });

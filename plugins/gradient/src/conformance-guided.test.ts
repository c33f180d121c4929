import { createRegistry } from '@cnn-xai/core';
import { describeExplainer } from '@cnn-xai/testing';
import { deconvnet, guidedBackprop, register, smoothgrad } from './index.js';

// tinyMobilenet has ReLU layers and tinyNested a nested model: both carry ReLUs the rules must match.
describeExplainer(guidedBackprop, { models: ['tinyVgg', 'tinyResnet', 'tinyMobilenet', 'tinyNested'] });
describeExplainer(deconvnet, { models: ['tinyVgg', 'tinyMobilenet'] });
// SmoothGrad finds its base in the registry. Few samples keep the suite fast; batches of 3 copies
// straddle images. Copy k of every image uses the same noise pattern, so batch equals per-image.
describeExplainer(smoothgrad, { registry: register(createRegistry()), explainOptions: { samples: 4, batchSize: 3 } });
describeExplainer(smoothgrad, {
  registry: register(createRegistry()),
  models: ['tinyMobilenet'],
  backends: ['wasm'],
  explainOptions: { base: 'guided-backprop', mode: 'vargrad', samples: 3, batchSize: 2 },
});

/**
 * @cnn-xai/web: what the site and the slides share in the browser. DOM and bundler code lives
 * here (apps/), never in packages/ or plugins/.
 */
import * as tf from '@tensorflow/tfjs-core';
import { registry } from './plugins.js';

export { registry, PLUGINS } from './plugins.js';
export { pickBackend, describeBackend, forgetBackend, preferBackend, BROWSER_BACKENDS, type BackendReport, type BrowserBackend } from './backend.js';
export { fixtureModels, loadModel, loadModelFromFiles, loadModelFromUrl, wrapModel, FIXTURES_BASE, type LoadedModel, type ModelEntry, type SampleEntry } from './models.js';
export { decodeImage, fetchImage, toInput, toPixels, type Pixels } from './image.js';
export { readMap, drawOverlay, drawLegend, drawImage, drawPixels, defaultDisplay, type MapData, type DrawOptions } from './render.js';
export { predict, runExplainer, selectExplainers, type Prediction, type RunResult } from './run.js';
export { Demo, mountDemo, mountAll, type DemoConfig } from './demo.js';
export { Compare, mountCompare } from './compare.js';
export { BringYourOwnModel, mountByom } from './byom.js';
export { deletionInsertion, drawCurves } from './evaluate.js';
export { h } from './dom.js';
export { quickOptions, notApplicable, QUICK_CAPS } from './quick.js';

/** For tests and the curious: tensor counts and the active backend, from the devtools console. */
(globalThis as { cnnXai?: unknown }).cnnXai = {
  tf,
  registry,
  memory: () => tf.memory(),
  backend: () => tf.getBackend(),
};

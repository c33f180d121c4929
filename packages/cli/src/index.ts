export { main } from './cli.js';
export { HELP, LIST_HELP, EXPLAIN_HELP, EVALUATE_HELP, REPORT_HELP, BENCH_HELP } from './help.js';
export {
  pluginPackageNames,
  registerModule,
  discoverPlugins,
  isExplainerLike,
  PLUGIN_PACKAGE,
  PluginError,
  type PackageJsonLike,
  type PluginLoad,
  type DiscoverOptions,
} from './plugins.js';
export { loadPlugins, importPlugin } from './plugin-node.js';
export { loadInputs, resolveInputFiles, npyBatchShape, type InputBatch, type InputItem, type DisplayImage } from './inputs.js';
export { attributionJson, attributionNpy, compositePng, displayMaps, type OutputFormat } from './outputs.js';
export { countingTap, type PassCounts } from './counting.js';
export { benchTable, type BenchReport } from './commands/bench.js';
export { explainerJson } from './commands/list.js';
export { readNpyFile, writeNpyFile } from './npy.js';

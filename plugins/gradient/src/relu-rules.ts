/**
 * The ReLU rules of guided backprop and deconvnet live in core (`NAMED_RULES`), so that worker
 * threads can apply them by name; re-exported here where they were defined first.
 */
export { guidedReluRule, deconvReluRule, isRelu } from '@cnn-xai/core';

import { defaultRegistry, type Registry } from '@cnn-xai/core';
import { lrp } from './lrp.js';

export { lrp, STARTS, type Start } from './lrp.js';
export {
  COMPOSITES,
  COMPOSITE_NAMES,
  LAYER_KINDS,
  RULE_NAMES,
  defineComposite,
  parseRules,
  ruleFromSpec,
  type Composite,
  type CompositeName,
  type CompositeParams,
  type LayerKind,
  type LayerMatcher,
  type LayerRef,
  type RuleEntry,
  type RuleMap,
} from './composites.js';
export {
  alphaBeta,
  epsilon,
  flat,
  gamma,
  gradient,
  norm,
  pass,
  propagate,
  stabilize,
  wSquare,
  zBox,
  zPlus,
  STABILIZER,
  type BasicRule,
  type Bound,
  type GradientRule,
  type ParamModifier,
  type PassRule,
  type Rule,
  type RuleTerm,
} from './rules.js';
export { buildPlan, checkLayers, type LayerPlan, type Plan, type PlanOptions } from './plan.js';
export { lrpOverrides } from './overrides.js';
export { releaseLrpCache } from './cache.js';

export const explainers = [lrp] as const;

/** Registers LRP (in the default registry unless one is given). */
export function register(registry: Registry = defaultRegistry): Registry {
  return registry.register(...explainers);
}

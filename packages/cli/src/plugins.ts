import type { AnyExplainer, Registry } from '@cnn-xai/core';

/**
 * Plugin discovery, kept free of Node APIs so other hosts (the site, the slides) can reuse it
 * with their own way of importing modules:
 *
 * - every dependency named `@cnn-xai/plugin-*` of a package.json is a plugin package;
 * - a plugin module either exports `register(registry)` (the convention of plugin packages)
 *   or exports explainer objects (named exports, a default export, or arrays of them), which
 *   are registered as they are.
 */

/** What a package.json offers for discovery. */
export interface PackageJsonLike {
  dependencies?: Record<string, string>;
  optionalDependencies?: Record<string, string>;
}

export const PLUGIN_PACKAGE = /^@cnn-xai\/plugin-[a-z0-9][a-z0-9._-]*$/;

/** The `@cnn-xai/plugin-*` packages among a package.json's dependencies, sorted by name. */
export function pluginPackageNames(pkg: PackageJsonLike): string[] {
  const names = new Set([...Object.keys(pkg.dependencies ?? {}), ...Object.keys(pkg.optionalDependencies ?? {})]);
  return [...names].filter((n) => PLUGIN_PACKAGE.test(n)).sort();
}

/** Duck-typed check for an explainer object (from another copy of core, `instanceof` would not do). */
export function isExplainerLike(v: unknown): v is AnyExplainer {
  if (v === null || typeof v !== 'object') return false;
  const e = v as Record<string, unknown>;
  return (
    typeof e['id'] === 'string' &&
    typeof e['explain'] === 'function' &&
    typeof e['options'] === 'object' &&
    e['options'] !== null &&
    typeof e['kind'] === 'string'
  );
}

type RegisterFn = (registry: Registry) => unknown;

/**
 * Registers what a plugin module offers into `registry` and returns the ids it added.
 * Throws when the module offers nothing usable.
 */
export async function registerModule(mod: unknown, registry: Registry, source: string): Promise<string[]> {
  const before = new Set(registry.list().map((e) => e.id));
  const m = (mod ?? {}) as Record<string, unknown>;
  const def = m['default'] as Record<string, unknown> | undefined;
  const register = (typeof m['register'] === 'function' ? m['register'] : def && typeof def['register'] === 'function' ? def['register'] : undefined) as
    | RegisterFn
    | undefined;
  if (register) {
    await register(registry);
  } else {
    const found: AnyExplainer[] = [];
    const visit = (v: unknown): void => {
      if (isExplainerLike(v)) found.push(v);
      else if (Array.isArray(v)) v.forEach(visit);
    };
    for (const v of Object.values(m)) visit(v);
    if (def && !isExplainerLike(def) && !Array.isArray(def) && typeof def === 'object') Object.values(def).forEach(visit);
    const unique = [...new Set(found)];
    if (unique.length === 0) {
      throw new Error(`${source} exports neither register(registry) nor any explainer objects`);
    }
    registry.register(...unique);
  }
  return registry
    .list()
    .map((e) => e.id)
    .filter((id) => !before.has(id));
}

export interface PluginLoad {
  /** Package name or path as given. */
  source: string;
  /** `dependency`: found in package.json; `explicit`: given by the user (--plugin). */
  origin: 'dependency' | 'explicit';
  /** Ids it registered (empty when it failed). */
  ids: string[];
  /** Why it could not be loaded. */
  error?: string;
}

export interface DiscoverOptions {
  /** Plugin packages to load (usually `pluginPackageNames(ownPackageJson)`). */
  packages?: readonly string[];
  /** Further modules (names or paths) the user asked for. */
  extra?: readonly string[];
  /** How to import a module: the host decides (Node: dynamic import with path resolution). */
  importModule: (specifier: string, origin: 'dependency' | 'explicit') => Promise<unknown>;
  /**
   * `dependency` plugins that fail are reported in the result and skipped; explicit ones throw
   * unless this is false.
   */
  strictExplicit?: boolean;
}

const why = (e: unknown): string => {
  const msg = e instanceof Error ? e.message : String(e);
  return (msg.split('\n')[0] ?? msg).trim();
};

/** Loads and registers plugin packages and user-given modules, in that order. */
export async function discoverPlugins(registry: Registry, opts: DiscoverOptions): Promise<PluginLoad[]> {
  const loads: PluginLoad[] = [];
  const jobs: Array<[string, PluginLoad['origin']]> = [
    ...(opts.packages ?? []).map((p): [string, PluginLoad['origin']] => [p, 'dependency']),
    ...(opts.extra ?? []).map((p): [string, PluginLoad['origin']] => [p, 'explicit']),
  ];
  for (const [source, origin] of jobs) {
    try {
      const mod = await opts.importModule(source, origin);
      loads.push({ source, origin, ids: await registerModule(mod, registry, source) });
    } catch (e) {
      if (origin === 'explicit' && opts.strictExplicit !== false) {
        throw new PluginError(`Cannot load plugin ${source}: ${why(e)}.`);
      }
      loads.push({ source, origin, ids: [], error: why(e) });
    }
  }
  return loads;
}

export class PluginError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'PluginError';
  }
}

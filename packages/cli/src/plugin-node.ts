import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { isAbsolute, join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { Registry } from '@cnn-xai/core';
import { discoverPlugins, pluginPackageNames, type PackageJsonLike, type PluginLoad } from './plugins.js';

/** The CLI's own package.json (dist/… and src/… both sit one level below it). */
export function ownPackageJson(): PackageJsonLike & { version?: string; name?: string } {
  return JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as PackageJsonLike & {
    version?: string;
  };
}

const looksLikePath = (s: string): boolean =>
  s.startsWith('.') || s.startsWith('/') || isAbsolute(s) || /\.(m?js|cjs|ts)$/.test(s) || s.startsWith('file:');

/**
 * Imports a plugin. Package names of the CLI's own dependencies resolve from the CLI; names the
 * user gives resolve from the working directory first (a plugin installed in the user's
 * project), then from the CLI; paths resolve from the working directory.
 */
export async function importPlugin(spec: string, origin: 'dependency' | 'explicit', cwd = process.cwd()): Promise<unknown> {
  if (origin === 'dependency') return import(spec);
  if (spec.startsWith('file:')) return import(spec);
  if (looksLikePath(spec)) return import(pathToFileURL(resolve(cwd, spec)).href);
  try {
    const req = createRequire(join(cwd, 'noop.js'));
    return await import(pathToFileURL(req.resolve(spec)).href);
  } catch {
    return import(spec);
  }
}

/** Registers the plugin packages the CLI depends on and the modules given with --plugin. */
export async function loadPlugins(registry: Registry, extra: readonly string[] = []): Promise<PluginLoad[]> {
  return discoverPlugins(registry, {
    packages: pluginPackageNames(ownPackageJson()),
    extra,
    importModule: (s, o) => importPlugin(s, o),
  });
}

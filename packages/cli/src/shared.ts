import { access } from 'node:fs/promises';
import { BACKENDS, createRegistry, resolveWorkers, selectBackend, setDefaultWorkers, type BackendName, type Registry, type Workers } from '@cnn-xai/core';
import * as tf from '@tensorflow/tfjs-core';
import { InputError, UsageError } from './errors.js';
import type { Io, Logger } from './log.js';
import { loadPlugins } from './plugin-node.js';

/** Options every command that runs a model accepts. */
export const COMMON_OPTIONS = {
  plugin: { type: 'string', multiple: true },
  quiet: { type: 'boolean', short: 'q' },
  verbose: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
} as const;

export interface CommandContext {
  io: Io;
  /** Environment (CNN_XAI_DEBUG, ...). */
  env: NodeJS.ProcessEnv;
}

/** A registry holding the CLI's plugin packages and the user's --plugin modules. */
export async function buildRegistry(extra: readonly string[] | undefined, log: Logger): Promise<Registry> {
  const registry = createRegistry();
  const loads = await loadPlugins(registry, extra ?? []);
  for (const l of loads) {
    if (l.error) log.warn(`plugin ${l.source} could not be loaded: ${l.error}`);
    else log.detail(`plugin ${l.source}: ${l.ids.join(', ') || '(nothing new)'}`);
  }
  return registry;
}

export function parseBackend(text: string | undefined): BackendName | 'auto' {
  const b = text ?? 'auto';
  if (b !== 'auto' && !(BACKENDS as readonly string[]).includes(b)) {
    throw new UsageError(`--backend expects auto or one of ${BACKENDS.join(', ')}, got "${b}".`);
  }
  return b as BackendName | 'auto';
}

/** `--workers`: auto or a count of worker threads (0: one thread); undefined when not given. */
export function parseWorkers(text: string | undefined): Workers | undefined {
  if (text === undefined) return undefined;
  if (text === 'auto') return 'auto';
  const n = Number(text);
  if (!/^\d+$/.test(text) || n > 64) throw new UsageError(`--workers expects auto or a whole number from 0 to 64, got "${text}".`);
  return n;
}

/**
 * Makes `--workers` the default of every explanation in this process and says with --verbose
 * how many threads share the many-pass methods' batches. Call after the backend started.
 */
export async function applyWorkers(workers: Workers | undefined, log: Logger): Promise<number> {
  if (workers !== undefined) setDefaultWorkers(workers);
  const n = await resolveWorkers();
  log.detail(`workers: ${n} (${n + 1} thread${n ? 's' : ''} share the batches of many-pass methods)`);
  return n;
}

/** Starts the backend, says which one on stderr, and why others failed with --verbose. */
export async function startBackend(pref: BackendName | 'auto', log: Logger): Promise<string> {
  // Production mode: no debug checks, and no "install tfjs-node" banner from tf.js on stdout.
  tf.enableProdMode();
  const choice = await selectBackend(pref);
  const failed = choice.attempts.filter((a) => !a.ok);
  const used = choice.attempts.find((a) => a.ok);
  const skipped = failed.length ? ` (not available: ${failed.map((a) => a.name).join(', ')}; --verbose says why)` : '';
  log.info(`backend: ${choice.backend}${skipped}`);
  for (const a of failed) log.detail(`  ${a.name}: ${a.detail}`);
  if (used) log.detail(`  ${used.name}: ${used.detail}`);
  return choice.backend;
}

/** Fails early, with the fix, when the model path does not exist (before a backend starts). */
export async function checkModelPath(path: string): Promise<void> {
  try {
    await access(path);
  } catch {
    throw new InputError(`Model not found: ${path}. Give --model a tf.js LayersModel directory (holding model.json) or a model.json path.`);
  }
}

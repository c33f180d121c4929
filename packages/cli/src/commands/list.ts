import { parseArgs } from 'node:util';
import type { AnyExplainer, ExplainerKind, OptionsSchema } from '@cnn-xai/core';
import { UsageError } from '../errors.js';
import { LIST_HELP } from '../help.js';
import { createLogger } from '../log.js';
import { buildRegistry, COMMON_OPTIONS, type CommandContext } from '../shared.js';
import { describeSpec, specJson } from '../settings.js';

const KINDS: readonly ExplainerKind[] = ['gradient', 'cam', 'perturbation', 'relevance', 'visualization'];

/** An explainer as JSON: everything but the function, option specs in full. */
export function explainerJson(e: AnyExplainer): Record<string, unknown> {
  return {
    id: e.id,
    name: e.name,
    kind: e.kind,
    family: e.family,
    description: e.description,
    paper: e.paper ?? null,
    requires: e.requires,
    options: Object.fromEntries(Object.entries(e.options as OptionsSchema).map(([k, s]) => [k, specJson(s)])),
  };
}

export async function listCommand(args: string[], ctx: CommandContext): Promise<number> {
  const { values } = parseArgs({
    args,
    options: { ...COMMON_OPTIONS, json: { type: 'boolean' }, kind: { type: 'string' }, family: { type: 'string' } },
    strict: true,
    allowPositionals: false,
  });
  if (values.help) {
    ctx.io.stdout.write(LIST_HELP);
    return 0;
  }
  if (values.kind !== undefined && !(KINDS as readonly string[]).includes(values.kind)) {
    throw new UsageError(`--kind expects one of ${KINDS.join(', ')}, got "${values.kind}".`);
  }
  const log = createLogger(ctx.io, { quiet: values.quiet, verbose: values.verbose });
  const registry = await buildRegistry(values.plugin, log);
  const filter: { kind?: ExplainerKind; family?: string } = {};
  if (values.kind) filter.kind = values.kind as ExplainerKind;
  if (values.family) filter.family = values.family;
  const list = registry.list(filter);
  if (values.json) {
    ctx.io.stdout.write(`${JSON.stringify(list.map(explainerJson), null, 2)}\n`);
    return 0;
  }
  if (list.length === 0) {
    ctx.io.stdout.write('No explainers registered.\n');
    return 0;
  }
  const w = (k: (e: AnyExplainer) => string, min: number): number => Math.max(min, ...list.map((e) => k(e).length));
  const wi = w((e) => e.id, 2);
  const wn = w((e) => e.name, 4);
  const wk = w((e) => e.kind, 4);
  const lines = [`${'ID'.padEnd(wi)}  ${'NAME'.padEnd(wn)}  ${'KIND'.padEnd(wk)}  FAMILY`];
  for (const e of list) {
    lines.push(`${e.id.padEnd(wi)}  ${e.name.padEnd(wn)}  ${e.kind.padEnd(wk)}  ${e.family}`);
    const opts = Object.entries(e.options as OptionsSchema);
    const wo = Math.max(0, ...opts.map(([k]) => k.length));
    for (const [k, spec] of opts) lines.push(`    ${k.padEnd(wo)}  ${describeSpec(spec)}`);
  }
  lines.push('', 'Set options with: cnn-xai explain --method ID --set NAME=VALUE');
  ctx.io.stdout.write(`${lines.join('\n')}\n`);
  return 0;
}

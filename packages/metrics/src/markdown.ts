import type { EvaluationReport, MetricEntry } from './evaluate.js';

/** A metric value for a table: percentages with one decimal, others with 3 decimals (or 3 significant digits when small). */
export function formatValue(v: number | null, unit?: '%'): string {
  if (v === null) return '—';
  if (unit === '%') return v.toFixed(1);
  const a = Math.abs(v);
  if (a !== 0 && (a < 0.001 || a >= 1e5)) return v.toExponential(2);
  return v.toFixed(3);
}

function cell(e: MetricEntry | undefined, unit: '%' | undefined, best: boolean): string {
  if (!e) return '';
  if (e.error) return 'error';
  if (e.skipped) return 'n/a';
  let s = formatValue(e.value, unit);
  if (best && e.value !== null) s = `**${s}**`;
  const flagged = (e.details as { flagged?: unknown } | undefined)?.flagged;
  if (flagged === true) s += ' (fails)';
  return s;
}

const escape = (s: string): string => s.replace(/\|/g, '\\|');

/**
 * The report as a Markdown table: one row per method, one column per metric with an arrow for
 * the better direction; the best value of each column is bold. Errors are listed below it.
 */
export function reportMarkdown(report: EvaluationReport, opts: { title?: string } = {}): string {
  const lines: string[] = [];
  if (opts.title) lines.push(`## ${opts.title}`, '');
  const meta = report.meta;
  const about: string[] = [];
  if (typeof meta['model'] === 'string') about.push(`model \`${meta['model']}\``);
  if (typeof meta['fixture'] === 'string') about.push(`fixture ${meta['fixture']}`);
  about.push(`${report.images} image${report.images === 1 ? '' : 's'} of ${report.inputShape.slice(1).join('x')}`);
  if (typeof meta['backend'] === 'string') about.push(`backend ${meta['backend']}`);
  about.push(`seed ${report.seed}`);
  lines.push(about.join(', ') + '.', '');
  const metrics = report.metrics;
  const header = ['method', ...metrics.map((m) => `${m.name}${m.unit ? ' (%)' : ''} ${m.better === 'higher' ? '↑' : '↓'}`), 'explain ms'];
  lines.push(`| ${header.map(escape).join(' | ')} |`);
  lines.push(`|${['---', ...metrics.map(() => '---:'), '---:'].join('|')}|`);
  const bestOf = new Map<string, number>();
  for (const m of metrics) {
    // Sanity checks: a correlation near 0 is best, whatever its sign.
    const key = (v: number): number => (m.kind === 'sanity' ? Math.abs(v) : v);
    const vals = report.methods.map((r) => r.metrics[m.id]?.value).filter((v): v is number => typeof v === 'number').map(key);
    if (vals.length > 1) bestOf.set(m.id, m.better === 'higher' ? Math.max(...vals) : Math.min(...vals));
  }
  for (const r of report.methods) {
    const cells = [
      `\`${r.id}\``,
      ...metrics.map((m) => {
        if (r.error) return '';
        const e = r.metrics[m.id];
        const v = e?.value;
        return cell(e, m.unit, typeof v === 'number' && bestOf.get(m.id) === (m.kind === 'sanity' ? Math.abs(v) : v));
      }),
      r.explainMs === null ? 'error' : r.explainMs.toFixed(0),
    ];
    lines.push(`| ${cells.join(' | ')} |`);
  }
  const problems: string[] = [];
  for (const r of report.methods) {
    if (r.error) problems.push(`- \`${r.id}\`: ${r.error}`);
    for (const [id, e] of Object.entries(r.metrics)) if (e.error) problems.push(`- \`${r.id}\` / ${id}: ${e.error}`);
  }
  if (problems.length) lines.push('', 'Errors:', '', ...problems);
  lines.push('', 'Metrics:', '');
  for (const m of metrics) {
    const opts = Object.entries(m.resolved ?? m.options)
      .filter(([k]) => k !== 'batchSize')
      .map(([k, v]) => `${k}=${Array.isArray(v) ? v.join(',') : String(v)}`)
      .join(', ');
    lines.push(`- **${m.name}** (\`${m.id}\`, ${m.better} is better): ${m.description}${opts ? ` Options: ${opts}.` : ''}`);
  }
  return `${lines.join('\n')}\n`;
}

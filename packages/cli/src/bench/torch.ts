import { spawn, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';

/** What fixtures/scripts/bench_torch.py prints with --json (schema cnn-xai/bench-torch@1). */
export interface TorchReport {
  schema: string;
  torch: string;
  numpy: string;
  python: string;
  threads: number;
  model: string;
  images: string;
  batchSizes: number[];
  check: { images: number; against: string; maxAbsDiff: number; tolerance: number; ok: boolean };
  stat: string;
  /** glibc malloc settings the script ran with (it tunes them unless told not to). */
  malloc: Record<string, string | null>;
  /** OMP_WAIT_POLICY (PASSIVE when the machine was busier than its cores), or null: libgomp's default. */
  ompWaitPolicy: string | null;
  loadavg: { start: number[]; end: number[] };
  raw: {
    forwardMsPerImage: Record<string, number>;
    forwardBackwardMsPerImage: Record<string, number>;
    forwardBackwardToLayerMsPerImage: Record<string, number>;
  };
  methods: Record<
    string,
    {
      what: string;
      msPerImage: Record<string, number>;
      cpuMsPerImage: Record<string, number>;
      runs: Record<string, number>;
      skipped: Record<string, string>;
    }
  >;
}

export interface TorchPython {
  python: string | null;
  /** Why none was found (the interpreters tried and what they said). */
  reason: string;
}

/**
 * A Python that can `import torch, numpy`: $CNN_XAI_PYTHON when set (and then only it), else
 * Debian's /usr/bin/python3 (the one python3-torch installs for), then `python3` on PATH.
 */
export function findTorchPython(env: NodeJS.ProcessEnv = process.env): TorchPython {
  const own = env['CNN_XAI_PYTHON'];
  const candidates = own ? [own] : ['/usr/bin/python3', 'python3'];
  const tried: string[] = [];
  for (const py of candidates) {
    if (py.startsWith('/') && !existsSync(py)) {
      tried.push(`${py}: not found`);
      continue;
    }
    const r = spawnSync(py, ['-c', 'import torch, numpy; print(torch.__version__)'], { encoding: 'utf8', timeout: 60_000 });
    if (r.status === 0) return { python: py, reason: '' };
    const why = r.error ? r.error.message : (r.stderr || '').trim().split('\n').pop() || `exit ${r.status}`;
    tried.push(`${py}: ${why}`);
  }
  return { python: null, reason: tried.join('; ') };
}

/** Runs the comparison script and returns its JSON report; stderr lines go to `onLine`. */
export function runTorchBench(python: string, script: string, args: readonly string[], onLine: (line: string) => void): Promise<TorchReport> {
  return new Promise((resolve, reject) => {
    const child = spawn(python, [script, ...args, '--json'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    let pending = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => {
      const text = d.toString();
      stderr += text;
      pending += text;
      const lines = pending.split('\n');
      pending = lines.pop() ?? '';
      lines.forEach((l) => l && onLine(l));
    });
    child.on('error', reject);
    child.on('close', (code) => {
      if (pending) onLine(pending);
      if (code !== 0) {
        const last = stderr.trim().split('\n').slice(-3).join(' | ');
        reject(new Error(`${script} exited with ${code}: ${last}`));
        return;
      }
      try {
        resolve(JSON.parse(stdout) as TorchReport);
      } catch (e) {
        reject(new Error(`${script} printed no JSON report: ${(e as Error).message}`));
      }
    });
  });
}

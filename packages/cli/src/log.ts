/**
 * Where the CLI's messages go. Results go to stdout (or files); everything else to stderr:
 * notes (backend, files written), warnings, and a progress line on a TTY. `--quiet` silences
 * all of it except errors; `--verbose` adds details (why backends failed, plugin loading).
 */
export interface Io {
  stdout: { write(s: string): unknown };
  stderr: { write(s: string): unknown; isTTY?: boolean };
}

export interface Logger {
  /** A note for people (backend chosen, file written). */
  info(message: string): void;
  warn(message: string): void;
  /** Only with --verbose. */
  detail(message: string): void;
  /** A progress callback that redraws one line on a TTY (a no-op elsewhere or with --quiet). */
  progress(label: string): (fraction: number) => void;
  /** Clears a progress line, if one is shown. */
  endProgress(): void;
}

export function createLogger(io: Io, opts: { quiet?: boolean; verbose?: boolean } = {}): Logger {
  const quiet = !!opts.quiet;
  const verbose = !!opts.verbose && !quiet;
  const tty = !!io.stderr.isTTY && !quiet;
  let shown = false;
  const clear = (): void => {
    if (shown) {
      io.stderr.write('\r\x1b[K');
      shown = false;
    }
  };
  return {
    info(message) {
      if (quiet) return;
      clear();
      io.stderr.write(`${message}\n`);
    },
    warn(message) {
      if (quiet) return;
      clear();
      io.stderr.write(`cnn-xai: warning: ${message}\n`);
    },
    detail(message) {
      if (!verbose) return;
      clear();
      io.stderr.write(`${message}\n`);
    },
    progress(label) {
      if (!tty) return () => {};
      let last = -1;
      return (fraction) => {
        const pct = Math.floor(Math.min(1, Math.max(0, fraction)) * 100);
        if (pct === last) return;
        last = pct;
        io.stderr.write(`\r\x1b[K${label} ${String(pct).padStart(3)}%`);
        shown = true;
      };
    },
    endProgress: clear,
  };
}

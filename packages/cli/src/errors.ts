/** A mistake in how the command was called (unknown flag, missing value): exit code 2. */
export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}

/** A problem with what the user gave (a file, a value): exit code 1, no stack trace. */
export class InputError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'InputError';
  }
}

export interface Failure {
  code: number;
  /** One line, without the `cnn-xai: ` prefix. */
  message: string;
  /** True when the error is not one we raise on purpose (a bug): the stack is worth showing. */
  unexpected: boolean;
}

/**
 * Core's CnnXaiError (and AbortError), recognised without importing core (which loads
 * TensorFlow.js) and across copies of core a plugin might bring.
 */
function isCnnXaiErrorLike(e: unknown): e is Error & { code: string } {
  return e instanceof Error && (e.name === 'CnnXaiError' || e.name === 'AbortError') && typeof (e as { code?: unknown }).code === 'string';
}

const oneLine = (s: string): string => s.replace(/\s*\n\s*/g, ' ').trim();

/** Node's system errors (ENOENT, EACCES, ...) as a sentence that names the path. */
function systemMessage(e: NodeJS.ErrnoException): string | null {
  const path = e.path ?? '';
  switch (e.code) {
    case 'ENOENT':
      return `No such file or directory: ${path}.`;
    case 'EACCES':
    case 'EPERM':
      return `Permission denied: ${path}.`;
    case 'EISDIR':
      return `${path} is a directory, a file was expected.`;
    case 'ENOTDIR':
      return `${path}: a part of the path is not a directory.`;
    case 'ENOSPC':
      return 'No space left on the device.';
    default:
      return null;
  }
}

/** Maps anything thrown to an exit code and a one-line message. */
export function describeFailure(e: unknown): Failure {
  if (e instanceof UsageError) return { code: 2, message: oneLine(e.message), unexpected: false };
  if (e instanceof InputError) return { code: 1, message: oneLine(e.message), unexpected: false };
  if (isCnnXaiErrorLike(e)) return { code: 1, message: oneLine(e.message), unexpected: false };
  if (e instanceof Error && e.name === 'PluginError') return { code: 1, message: oneLine(e.message), unexpected: false };
  if (e instanceof Error) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === 'string' && code.startsWith('ERR_PARSE_ARGS')) {
      return { code: 2, message: oneLine(e.message), unexpected: false };
    }
    const sys = typeof code === 'string' ? systemMessage(e as NodeJS.ErrnoException) : null;
    if (sys) return { code: 1, message: sys, unexpected: false };
    return { code: 1, message: oneLine(e.message || e.name), unexpected: true };
  }
  return { code: 1, message: oneLine(String(e)), unexpected: true };
}

/**
 * Every failure cnn-xai reports on purpose is a `CnnXaiError`: a stable `code` that
 * programs can switch on, a message that names the problem, and a `hint` that names the fix.
 */
export type ErrorCode =
  | 'UNKNOWN_EXPLAINER'
  | 'DUPLICATE_EXPLAINER'
  | 'UNKNOWN_OPTION'
  | 'BAD_OPTION_VALUE'
  | 'UNKNOWN_LAYER'
  | 'NO_CONV_LAYER'
  | 'NOT_A_CAM_MODEL'
  | 'BAD_INPUT_SHAPE'
  | 'BAD_TARGET'
  | 'UNSUPPORTED_LAYER'
  | 'UNSUPPORTED_MODEL'
  | 'BACKEND_UNAVAILABLE'
  | 'BAD_FILE'
  | 'ABORTED';

export class CnnXaiError extends Error {
  readonly code: ErrorCode;
  readonly hint: string | undefined;

  constructor(code: ErrorCode, message: string, hint?: string) {
    super(hint ? `${message} ${hint}` : message);
    this.name = 'CnnXaiError';
    this.code = code;
    this.hint = hint;
  }
}

export class AbortError extends CnnXaiError {
  constructor(reason?: unknown) {
    const why = reason instanceof Error ? reason.message : reason !== undefined ? String(reason) : '';
    super('ABORTED', `The explanation was aborted${why ? `: ${why}` : ''}.`);
    this.name = 'AbortError';
  }
}

export function isCnnXaiError(e: unknown, code?: ErrorCode): e is CnnXaiError {
  return e instanceof CnnXaiError && (code === undefined || e.code === code);
}

/** Lists names for an error message: `a, b, c` (at most `max`, then `… and N more`). */
export function listNames(names: readonly string[], max = 40): string {
  if (names.length <= max) return names.join(', ');
  return `${names.slice(0, max).join(', ')} … and ${names.length - max} more`;
}

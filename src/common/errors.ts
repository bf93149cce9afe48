/**
 * The one error type of the engine. Every failure that crosses a module
 * boundary is an EngineError with a code from a closed set; the CLI maps the
 * code to an exit status once (exitStatusFor) and the API to an HTTP status.
 *
 * Messages are lowercase and name the operation and the object
 * ("pull alpine:3.20: manifest unknown"). Context is kept as `cause`, never
 * flattened into the message.
 */

export const ERROR_CODES = [
  'NOT_FOUND',
  'ALREADY_EXISTS',
  'INVALID_ARGUMENT',
  'FAILED_PRECONDITION',
  'CONFLICT',
  'PERMISSION_DENIED',
  'UNAVAILABLE',
  'INTEGRITY',
  'NOT_IMPLEMENTED',
  'INTERNAL',
] as const;

export type ErrorCode = (typeof ERROR_CODES)[number];

export interface EngineErrorOptions {
  hint?: string;
  cause?: unknown;
}

export class EngineError extends Error {
  readonly code: ErrorCode;
  readonly hint: string | undefined;

  constructor(code: ErrorCode, message: string, options: EngineErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'EngineError';
    this.code = code;
    this.hint = options.hint;
  }
}

export function isEngineError(value: unknown, code?: ErrorCode): value is EngineError {
  return value instanceof EngineError && (code === undefined || value.code === code);
}

/** Exit statuses the CLI uses, Docker's convention. */
export const EXIT = {
  /** The engine itself failed (bad flag, unknown image, daemon-side error). */
  ENGINE: 125,
  /** The container's command exists but cannot be invoked. */
  CANNOT_INVOKE: 126,
  /** The container's command was not found. */
  NOT_FOUND: 127,
} as const;

/**
 * The single mapping from an error to the CLI's exit status. Errors of the
 * engine exit 125 like Docker's; a container's own status is passed through by
 * the caller and never goes through here.
 */
export function exitStatusFor(error: unknown): number {
  if (isEngineError(error)) return EXIT.ENGINE;
  return EXIT.ENGINE;
}

/** The single mapping from an error code to an HTTP status, for the API. */
export function httpStatusFor(code: ErrorCode): number {
  switch (code) {
    case 'NOT_FOUND':
      return 404;
    case 'ALREADY_EXISTS':
    case 'CONFLICT':
      return 409;
    case 'INVALID_ARGUMENT':
      return 400;
    case 'FAILED_PRECONDITION':
      return 409;
    case 'PERMISSION_DENIED':
      return 403;
    case 'UNAVAILABLE':
      return 503;
    case 'NOT_IMPLEMENTED':
      return 501;
    case 'INTEGRITY':
    case 'INTERNAL':
      return 500;
  }
}

/** Wraps any thrown value as an EngineError, keeping it as the cause. */
export function toEngineError(error: unknown, message: string, code: ErrorCode = 'INTERNAL'): EngineError {
  if (error instanceof EngineError) return error;
  return new EngineError(code, message, { cause: error });
}

/** The first of an error and its causes (outermost first, at most eight deep) that `match` accepts. */
export function findCause<T extends Error>(error: unknown, match: (cause: Error) => cause is T): T | undefined;
export function findCause(error: unknown, match: (cause: Error) => boolean): Error | undefined;
export function findCause(error: unknown, match: (cause: Error) => boolean): Error | undefined {
  for (let e = error, depth = 0; e instanceof Error && depth < 8; e = e.cause, depth++) {
    if (match(e)) return e;
  }
  return undefined;
}

/** The chain of messages from an error and its causes, outermost first. */
export function describeCauses(error: unknown): string[] {
  const out: string[] = [];
  let current: unknown = error;
  for (let depth = 0; current !== undefined && current !== null && depth < 8; depth++) {
    if (current instanceof Error) {
      out.push(current.message);
      current = current.cause;
    } else {
      out.push(describeValue(current));
      break;
    }
  }
  return out;
}

/** A non-Error cause (structured detail such as an HTTP status) as one short line. */
function describeValue(value: unknown): string {
  if (typeof value !== 'object') return String(value);
  let text: string;
  try {
    text = JSON.stringify(value);
  } catch {
    text = Object.prototype.toString.call(value);
  }
  return text.length > 300 ? `${text.slice(0, 299)}…` : text;
}

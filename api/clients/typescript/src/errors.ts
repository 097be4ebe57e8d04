// Errors: `TroveError`, the one error type the SDK throws or rejects with.
// `code` is the server's stable error code (`ServerErrorCode`) or one of the
// client-side codes (`ClientErrorCode`: disconnected, overloaded, timeout,
// closed).

/** Error codes the server sends (docs/PROTOCOL.md, "Error codes"). */
export type ServerErrorCode =
  | 'unauthorized' | 'forbidden' | 'invalid_json' | 'invalid_request' | 'invalid_event'
  | 'invalid_hunt' | 'unknown_op' | 'unsupported_frame' | 'unknown_hunt' | 'unknown_product'
  | 'not_found' | 'method_not_allowed' | 'hunt_conflict' | 'claim_id_conflict' | 'too_many_claims'
  | 'message_too_large' | 'batch_too_large' | 'record_too_large' | 'too_many_subscriptions'
  | 'unknown_subscription' | 'overloaded' | 'journal_failed' | 'stopped' | 'not_ready'
  | 'shutting_down' | 'snapshot_failed' | 'internal';

/**
 * Codes the client produces itself: `disconnected` (the connection was lost
 * with the request unanswered; it may or may not have been applied),
 * `overloaded` (a client-side queue is full; also a server code), `timeout`
 * (no answer in time), `closed` (the client was closed).
 */
export type ClientErrorCode = 'disconnected' | 'overloaded' | 'timeout' | 'closed';

export type ErrorCode = ServerErrorCode | ClientErrorCode;

/** Server codes that are safe to retry (HTTP 503 class). */
const RETRYABLE = new Set<string>(['overloaded', 'not_ready', 'stopped', 'shutting_down', 'journal_failed']);

export interface ErrorDetails {
  /** `invalid_event`: position of the first bad event in the batch. */
  index?: number;
  /** `invalid_hunt`: path of the field at fault, e.g. `products[1].stock`. */
  field?: string;
  /** HTTP status, for errors from the HTTP API (or a refused upgrade). */
  status?: number;
}

/** Every failure of the SDK: a stable `code` plus the server's message. */
export class TroveError extends Error {
  readonly code: ErrorCode | string;
  readonly index?: number;
  readonly field?: string;
  readonly status?: number;

  constructor(code: ErrorCode | string, message: string, details: ErrorDetails = {}) {
    super(message);
    this.name = 'TroveError';
    this.code = code;
    if (details.index !== undefined) this.index = details.index;
    if (details.field !== undefined) this.field = details.field;
    if (details.status !== undefined) this.status = details.status;
  }

  /** True for 503-class server codes: retry later (claims with the same claim_id). */
  get retryable(): boolean {
    return RETRYABLE.has(this.code);
  }
}

/** Builds a TroveError from a wire `error` object (`{code, message, index?, field?}`). */
export function fromWire(error: unknown, status?: number): TroveError {
  const e = (error && typeof error === 'object' ? error : {}) as Record<string, unknown>;
  const code = typeof e.code === 'string' ? e.code : 'internal';
  const message = typeof e.message === 'string' ? e.message : `server error ${code}`;
  const details: ErrorDetails = {};
  if (typeof e.index === 'number') details.index = e.index;
  if (typeof e.field === 'string') details.field = e.field;
  if (status !== undefined) details.status = status;
  return new TroveError(code, message, details);
}

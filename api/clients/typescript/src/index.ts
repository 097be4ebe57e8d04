// @trove/client: the public API. `Client` (ops over WebSocket, reconnect,
// claim resend), `ClaimsFeed` + `CursorStore` (the dispatch feed),
// `EventBatcher` (batching with backpressure), `HttpApi` (designer and
// auditor helpers), `TroveError` (typed errors). Node extras (the file
// cursor store) are in `@trove/client/node`.

export { Client, type ClientOptions } from './client.js';
export { TroveError, type ErrorCode, type ServerErrorCode, type ClientErrorCode, type ErrorDetails } from './errors.js';
export { ClaimsFeed, MemoryCursorStore, Subscription, type CursorStore, type FeedOptions } from './feed.js';
export { EventBatcher, MAX_BATCH_EVENTS, type BatcherOptions } from './batcher.js';
export { HttpApi, type AuditClaim, type AuditClaimsPage, type ExportParams } from './http.js';
export { Backoff, type BackoffOptions } from './backoff.js';
export { MAX_MESSAGE_BYTES, type Protocol } from './codec.js';
export type { ConnectionEvents } from './connection.js';
export type { AuthMode } from './transport.js';
export * from './types.js';

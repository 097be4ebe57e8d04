// The SDK's entry point: `Client`, which routes typed ops (`events`,
// `claim`, `player`, `leaderboard`, subscriptions, the claims feed, the
// event batcher) over its `Connection`s, and carries an `HttpApi` for the
// HTTP-only helpers. It holds a list of connections so a cluster can be
// spread over several sockets; today the server is one node and the client
// opens one.

import type { BackoffOptions } from './backoff.js';
import { EventBatcher, type BatcherOptions } from './batcher.js';
import { codecFor, type Message, type Protocol } from './codec.js';
import { Connection, type ConnectionEvents } from './connection.js';
import { TroveError } from './errors.js';
import { ClaimsFeed, Subscription, type FeedOptions } from './feed.js';
import { HttpApi } from './http.js';
import { isNode, urlsFor, type AuthMode } from './transport.js';
import type { ClaimRequest, ClaimResult, EventsAck, GameEvent, Leaderboard, PlayerView } from './types.js';

export interface ClientOptions {
  /** Base URL of the server, e.g. `http://127.0.0.1:8080` (ws:// and wss:// work too). */
  url: string;
  /** The API key. */
  key: string;
  /** Frame encoding: `json` (default) or `msgpack` (`trove.v1.msgpack`). */
  protocol?: Protocol;
  /** `header` (default on Node): `Authorization: Bearer`; `ticket` (default in browsers): `POST /v1/ws/ticket`. */
  auth?: AuthMode;
  /** Requests in flight or awaiting resend per connection (default 1024); beyond: `overloaded`. */
  maxPending?: number;
  /** Time to wait for an answer, in ms (default 30 000; 0: no limit). */
  requestTimeoutMs?: number;
  /** Time a claim waits for its answer across reconnects, in ms (default 120 000). */
  claimTimeoutMs?: number;
  /** How often a claim answered with a 503-class code is retried, same claim_id (default 5). */
  claimRetries?: number;
  /** Time for one connect attempt, in ms (default 10 000). */
  connectTimeoutMs?: number;
  /** Reconnect delays (default base 100 ms, cap 5 000 ms, full jitter). */
  backoff?: BackoffOptions;
  /** Reconnect attempts in a row before giving up (default: no limit). */
  maxReconnectAttempts?: number;
  /** A WebSocket constructor to use instead of `ws` (Node) or the global one. */
  webSocket?: unknown;
  /** Lifecycle hooks (connect attempts, opens, disconnects, giving up). */
  on?: ConnectionEvents;
}

export class Client {
  readonly http: HttpApi;
  private readonly connections: Connection[];
  private next = 0;

  private constructor(options: ClientOptions) {
    const { httpUrl, wsUrl } = urlsFor(options.url);
    this.http = new HttpApi(httpUrl, options.key);
    this.connections = [new Connection({
      httpUrl, wsUrl, key: options.key,
      codec: codecFor(options.protocol ?? 'json'),
      auth: options.auth ?? (isNode() ? 'header' : 'ticket'),
      connectTimeoutMs: options.connectTimeoutMs ?? 10_000,
      requestTimeoutMs: options.requestTimeoutMs ?? 30_000,
      claimTimeoutMs: options.claimTimeoutMs ?? 120_000,
      maxPending: options.maxPending ?? 1024,
      claimRetries: options.claimRetries ?? 5,
      backoff: options.backoff ?? {},
      maxReconnectAttempts: options.maxReconnectAttempts ?? Infinity,
      webSocket: options.webSocket,
    }, options.on)];
  }

  /** Opens the connection(s). Rejects with a TroveError (`unauthorized` for a wrong key; no retry). */
  static async connect(options: ClientOptions): Promise<Client> {
    const client = new Client(options);
    await Promise.all(client.connections.map((c) => c.connect()));
    return client;
  }

  /** The connection an op goes to: round robin over open ones (the first one if none is open). */
  private route(): Connection {
    const n = this.connections.length;
    for (let i = 0; i < n; i++) {
      const c = this.connections[(this.next + i) % n];
      if (c.isOpen) {
        this.next = (this.next + i + 1) % n;
        return c;
      }
    }
    return this.connections[0];
  }

  /** Connection counters: connect attempts, connects, disconnects, re-sent claims. */
  get stats(): Connection['stats'] {
    return this.connections[0].stats;
  }

  /** Any op, for ops this SDK does not type yet. Resolves with the success reply. */
  request(op: string, fields: Message = {}): Promise<Message> {
    return this.route().request(op, fields);
  }

  /** One batch of events, applied atomically (`invalid_event` carries the bad event's `index`). */
  async events(events: GameEvent[]): Promise<EventsAck> {
    const reply = await this.route().request('events', { events });
    return { accepted: Number(reply.accepted), seq: Number(reply.seq) };
  }

  /**
   * Claims one unit. Survives reconnects: an unanswered claim is re-sent
   * with the same `claim_id` and this promise resolves once, with the
   * decision the server recorded (`duplicate` may then be true).
   */
  async claim(claim: ClaimRequest): Promise<ClaimResult> {
    return strip(await this.route().request('claim', { ...claim }, true)) as unknown as ClaimResult;
  }

  async player(hunt: string, player: string): Promise<PlayerView> {
    return strip(await this.route().request('player', { hunt, player })) as unknown as PlayerView;
  }

  async leaderboard(hunt: string, options: { limit?: number; around?: string } = {}): Promise<Leaderboard> {
    return strip(await this.route().request('leaderboard', { hunt, ...options })) as unknown as Leaderboard;
  }

  /** Subscribes to a snapshot topic (`leaderboard`, `hunts`, `stats`); re-subscribed after reconnects. */
  async subscribe<T = Message>(topic: 'leaderboard' | 'hunts' | 'stats', fields: Message = {}, maxBuffer = 64): Promise<Subscription<T>> {
    const connection = this.connections[0];
    const subscription = new Subscription<T>(connection, { topic, ...fields }, maxBuffer);
    subscription.id = await connection.subscribe(subscription.handler);
    return subscription;
  }

  /** Leaderboard pushes of a hunt (the top `limit`, at once and on change). */
  subscribeLeaderboard(hunt: string, limit?: number): Promise<Subscription<Leaderboard & { subscription: number }>> {
    return this.subscribe('leaderboard', limit === undefined ? { hunt } : { hunt, limit });
  }

  /** The claims dispatch feed (granted claims in journal order), resuming from `options.store`. */
  feed(options: FeedOptions = {}): ClaimsFeed {
    return new ClaimsFeed(this.connections[0], options);
  }

  /** An event batcher with a bounded queue (see `BatcherOptions`). */
  batcher(options: BatcherOptions = {}): EventBatcher {
    return new EventBatcher(this.connections[0], options);
  }

  /** Closes every connection: pending requests reject with `closed`, feeds end. */
  close(): void {
    for (const c of this.connections) c.close();
  }
}

function strip(reply: Message): Message {
  const { id: _id, ok: _ok, ...rest } = reply;
  return rest;
}

export { TroveError };

// The claims dispatch feed: `ClaimsFeed`, an async iterator of granted
// claims (`ClaimPush`) in journal order, for a warehouse consumer; and
// `CursorStore`, where it keeps the cursor of the last claim the consumer
// finished (`MemoryCursorStore` here; `FileCursorStore` in `./node`).
//
// Delivery is at least once: after a crash of the consumer, claims it
// processed but whose cursor was not stored yet come again. Make the
// consumer idempotent on `(player, claim_id)`, the dispatch idempotency key.

import type { Message } from './codec.js';
import type { Connection, SubscriptionHandler } from './connection.js';
import { TroveError } from './errors.js';
import type { ClaimPush } from './types.js';

/** Where a feed keeps its cursor between runs of the consumer. */
export interface CursorStore {
  /** The stored cursor, or null when nothing was stored yet. */
  load(): Promise<number | null>;
  /** Stores `cursor` durably before resolving. */
  save(cursor: number): Promise<void>;
}

/** A cursor store that lives as long as the process (the default). */
export class MemoryCursorStore implements CursorStore {
  constructor(private cursor: number | null = null) {}
  async load(): Promise<number | null> {
    return this.cursor;
  }
  async save(cursor: number): Promise<void> {
    this.cursor = cursor;
  }
}

export interface FeedOptions {
  /** Cursor store (default: in memory). */
  store?: CursorStore;
  /** Start after this cursor when the store holds none (default 0: the whole journal). */
  from?: number;
  /** Claims held for the consumer (default 1024); beyond, the feed pauses and re-subscribes when drained. */
  maxBuffer?: number;
  /**
   * `auto` (default): the cursor of an item is stored on the next `next()`
   * call, i.e. once the loop body that handled it finished. `manual`: call
   * `ack(item)` after processing; only acked cursors are stored.
   */
  ack?: 'auto' | 'manual';
}

interface Waiter {
  resolve(item: ClaimPush | null): void;
  reject(error: TroveError): void;
}

/** Granted claims in journal order; resumes from its store after reconnects and restarts. */
export class ClaimsFeed implements AsyncIterableIterator<ClaimPush> {
  private readonly store: CursorStore;
  private readonly maxBuffer: number;
  private readonly autoAck: boolean;
  private readonly buffer: ClaimPush[] = [];
  private readonly handler: SubscriptionHandler;
  private readonly started: Promise<void>;
  private lastEnqueued = 0;
  private stored = 0;
  private toCommit: number | undefined;
  private waiter: Waiter | undefined;
  private paused = false;
  private finished: { error: TroveError | null } | undefined;

  constructor(private readonly connection: Connection, options: FeedOptions = {}) {
    this.store = options.store ?? new MemoryCursorStore();
    this.maxBuffer = Math.max(1, options.maxBuffer ?? 1024);
    this.autoAck = (options.ack ?? 'auto') === 'auto';
    this.handler = {
      request: () => ({ topic: 'claims', from: this.lastEnqueued }),
      push: (message) => this.onPush(message),
      end: (error) => this.finish(error),
    };
    this.started = this.start(options.from ?? 0);
    this.started.catch(() => {});
  }

  /** The cursor last stored in the cursor store. */
  get storedCursor(): number {
    return this.stored;
  }

  private async start(from: number): Promise<void> {
    const loaded = await this.store.load();
    this.stored = loaded ?? from;
    this.lastEnqueued = this.stored;
    await this.connection.subscribe(this.handler, true);
  }

  private onPush(message: Message): void {
    if (message.push !== 'claim' || this.paused || this.finished) return;
    const item = message as unknown as ClaimPush;
    if (!(item.cursor > this.lastEnqueued)) return; // already held or handled
    if (this.buffer.length >= this.maxBuffer) {
      this.paused = true; // drop it; re-subscribe from lastEnqueued once drained
      void this.connection.unsubscribe(this.handler).catch(() => {});
      return;
    }
    this.lastEnqueued = item.cursor;
    const waiter = this.waiter;
    this.waiter = undefined;
    if (waiter) waiter.resolve(item);
    else this.buffer.push(item);
  }

  private finish(error: TroveError | null): void {
    if (this.finished) return;
    this.finished = { error };
    const waiter = this.waiter;
    this.waiter = undefined;
    if (waiter && error) waiter.reject(error);
    else waiter?.resolve(null);
  }

  /** Stores the cursor of the previous item (auto ack), then yields the next granted claim. */
  async next(): Promise<IteratorResult<ClaimPush>> {
    await this.started;
    if (this.toCommit !== undefined) {
      await this.commit(this.toCommit);
      this.toCommit = undefined;
    }
    const item = await this.take();
    if (!item) return { value: undefined, done: true };
    if (this.autoAck) this.toCommit = item.cursor;
    return { value: item, done: false };
  }

  private async take(): Promise<ClaimPush | null> {
    if (this.paused && this.buffer.length <= this.maxBuffer / 2) await this.unpause(); // pushes may land in the buffer meanwhile
    const item = this.buffer.shift();
    if (item) return item;
    if (this.finished) {
      if (this.finished.error) throw this.finished.error;
      return null;
    }
    return new Promise((resolve, reject) => { this.waiter = { resolve, reject }; });
  }

  private async unpause(): Promise<void> {
    this.paused = false;
    await this.connection.subscribe(this.handler, true);
  }

  /** Manual ack: stores `item`'s cursor (the consumer is done with it and everything before it). */
  async ack(item: ClaimPush | number): Promise<void> {
    await this.commit(typeof item === 'number' ? item : item.cursor);
  }

  private async commit(cursor: number): Promise<void> {
    if (cursor <= this.stored) return;
    await this.store.save(cursor);
    this.stored = cursor;
  }

  /** Stops the feed (what `break` in a for-await loop calls). Does not store the last item's cursor. */
  async return(): Promise<IteratorResult<ClaimPush>> {
    this.finish(null);
    this.buffer.length = 0;
    await this.connection.unsubscribe(this.handler).catch(() => {});
    return { value: undefined, done: true };
  }

  [Symbol.asyncIterator](): ClaimsFeed {
    return this;
  }
}

/** Pushes of a snapshot topic (leaderboard, hunts, stats): bounded, the oldest dropped when full. */
export class Subscription<T = Message> implements AsyncIterableIterator<T> {
  private readonly buffer: T[] = [];
  private waiter: Waiter | undefined;
  private finished: { error: TroveError | null } | undefined;
  readonly handler: SubscriptionHandler;
  /** Pushes dropped because the consumer was behind. */
  dropped = 0;
  /** The server's id of this subscription on the current socket. */
  id: number | undefined;

  constructor(private readonly connection: Connection, request: Message, private readonly maxBuffer = 64) {
    this.handler = {
      request: () => request,
      push: (message) => this.onPush(message as T),
      end: (error) => this.finish(error),
    };
  }

  private onPush(item: T): void {
    const waiter = this.waiter as unknown as { resolve(v: T): void } | undefined;
    this.waiter = undefined;
    if (waiter) return waiter.resolve(item);
    if (this.buffer.length >= this.maxBuffer) {
      this.buffer.shift();
      this.dropped += 1;
    }
    this.buffer.push(item);
  }

  private finish(error: TroveError | null): void {
    if (this.finished) return;
    this.finished = { error };
    const waiter = this.waiter;
    this.waiter = undefined;
    if (waiter && error) waiter.reject(error);
    else waiter?.resolve(null);
  }

  async next(): Promise<IteratorResult<T>> {
    const item = this.buffer.shift();
    if (item !== undefined) return { value: item, done: false };
    if (this.finished) {
      if (this.finished.error) throw this.finished.error;
      return { value: undefined, done: true };
    }
    const next = await new Promise<T | null>((resolve, reject) => {
      this.waiter = { resolve: resolve as (v: ClaimPush | null) => void, reject };
    });
    return next === null ? { value: undefined, done: true } : { value: next, done: false };
  }

  /** Ends the subscription on the server. */
  async unsubscribe(): Promise<void> {
    this.finish(null);
    await this.connection.unsubscribe(this.handler);
  }

  async return(): Promise<IteratorResult<T>> {
    await this.unsubscribe().catch(() => {});
    return { value: undefined, done: true };
  }

  [Symbol.asyncIterator](): Subscription<T> {
    return this;
  }
}

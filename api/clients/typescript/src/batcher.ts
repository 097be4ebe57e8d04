// Event batching with backpressure: `EventBatcher` gathers events sent one
// by one into `events` requests, by size (count and bytes, within the
// server's 10 000 events / 1 MiB per message) and time (`lingerMs`), with at
// most `maxInFlight` batches unanswered. Its queue is bounded (`maxQueue`):
// `send` rejects with `overloaded` when it is full. `sendAll` queues a
// caller's group of events (a game tick's) under one promise: per event it
// allocates no promise or closure, which is most of what one-by-one sending
// costs at 100k+ events/s (docs/BENCHMARKS.md).

import { MAX_MESSAGE_BYTES, utf8Length } from './codec.js';
import type { Connection } from './connection.js';
import { TroveError } from './errors.js';
import type { EventsAck, GameEvent } from './types.js';

/** The server's limit of events per request. */
export const MAX_BATCH_EVENTS = 10_000;
const ENVELOPE_BYTES = 64;

export interface BatcherOptions {
  /** Events per request, at most 10 000 (default 1000). */
  maxBatch?: number;
  /** Encoded bytes per request (default and maximum: 1 MiB). */
  maxBatchBytes?: number;
  /** How long a partial batch waits for more events, in ms (default 5). */
  lingerMs?: number;
  /** Events waiting to be sent; `send` rejects with `overloaded` beyond (default 10 000). */
  maxQueue?: number;
  /** Batches sent and not yet answered (default 4). */
  maxInFlight?: number;
}

/** One queued event: its own callbacks (`send`), or its group and its index in it (`sendAll`). */
interface Item {
  event: GameEvent;
  bytes: number;
  resolve(ack: EventsAck, index: number): void;
  reject(error: TroveError, index: number): void;
  index: number;
}

export class EventBatcher {
  private readonly maxBatch: number;
  private readonly maxBatchBytes: number;
  private readonly lingerMs: number;
  private readonly maxQueue: number;
  private readonly maxInFlight: number;
  private readonly queue: Item[] = [];
  private inFlight = 0;
  private timer: ReturnType<typeof setTimeout> | undefined;
  private idle: Array<() => void> = [];
  private closed = false;

  constructor(private readonly connection: Connection, options: BatcherOptions = {}) {
    this.maxBatch = clamp(options.maxBatch ?? 1000, 1, MAX_BATCH_EVENTS);
    this.maxBatchBytes = clamp(options.maxBatchBytes ?? MAX_MESSAGE_BYTES, 1024, MAX_MESSAGE_BYTES) - ENVELOPE_BYTES;
    this.lingerMs = Math.max(0, options.lingerMs ?? 5);
    this.maxQueue = Math.max(1, options.maxQueue ?? 10_000);
    this.maxInFlight = Math.max(1, options.maxInFlight ?? 4);
  }

  /** Events queued, not yet sent. */
  get queued(): number {
    return this.queue.length;
  }

  /**
   * Queues one event; resolves with the ack of the batch that carried it
   * (durable at `seq`), rejects with its `invalid_event` (the rest of its
   * batch is re-sent), `overloaded` when the queue is full, or the error of
   * the batch (`disconnected`: it may or may not have been applied).
   */
  send(event: GameEvent): Promise<EventsAck> {
    if (this.closed) return Promise.reject(new TroveError('closed', 'the batcher is closed'));
    if (this.queue.length >= this.maxQueue) {
      return Promise.reject(new TroveError('overloaded', `event queue full: ${this.maxQueue} events waiting`));
    }
    const bytes = utf8Length(JSON.stringify(event)) + 1;
    if (bytes > this.maxBatchBytes) {
      return Promise.reject(new TroveError('message_too_large', `event of ${bytes} bytes cannot fit a 1 MiB message`));
    }
    return new Promise((resolve, reject) => {
      this.queue.push({ event, bytes, resolve, reject, index: 0 });
      this.schedule();
    });
  }

  private schedule(): void {
    if (this.queue.length >= this.maxBatch) return this.pump();
    if (this.timer === undefined) this.timer = setTimeout(() => { this.timer = undefined; this.pump(); }, this.lingerMs);
  }

  private pump(): void {
    while (this.inFlight < this.maxInFlight && this.queue.length > 0) void this.sendBatch(this.take());
    if (this.inFlight === 0 && this.queue.length === 0) this.idle.splice(0).forEach((wake) => wake());
  }

  private take(): Item[] {
    let bytes = 0;
    let n = 0;
    while (n < this.queue.length && n < this.maxBatch && (n === 0 || bytes + this.queue[n].bytes <= this.maxBatchBytes)) {
      bytes += this.queue[n].bytes;
      n += 1;
    }
    return this.queue.splice(0, n);
  }

  private async sendBatch(batch: Item[]): Promise<void> {
    this.inFlight += 1;
    try {
      const reply = await this.connection.request('events', { events: batch.map((i) => i.event) });
      const ack: EventsAck = { accepted: Number(reply.accepted), seq: Number(reply.seq) };
      for (const item of batch) item.resolve(ack, item.index);
    } catch (error) {
      this.failBatch(batch, error as TroveError);
    } finally {
      this.inFlight -= 1;
      this.pump();
    }
  }

  /** An invalid event fails alone (nothing of the batch was applied; the others go again); other errors fail the batch. */
  private failBatch(batch: Item[], error: TroveError): void {
    if (error.code === 'invalid_event' && error.index !== undefined && batch[error.index]) {
      const [bad] = batch.splice(error.index, 1);
      bad.reject(new TroveError('invalid_event', error.message, { index: 0 }), bad.index);
      this.queue.unshift(...batch);
      return;
    }
    for (const item of batch) item.reject(error, item.index);
  }

  /** Sends what is queued now; resolves once everything sent so far is answered. */
  flush(): Promise<void> {
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
    const done = new Promise<void>((resolve) => this.idle.push(resolve));
    this.pump();
    return done;
  }

  /**
   * Queues `events` as one group (all or none: `overloaded` if they do not
   * all fit the queue); resolves once every one of them is acked, with the
   * last ack, or rejects with the first error of any of them (an
   * `invalid_event` carries the event's `index` in `events`; the others are
   * still sent and may have been applied: retrying the whole group may
   * apply them twice, as for any `events` request).
   */
  sendAll(events: readonly GameEvent[]): Promise<EventsAck | undefined> {
    if (this.closed) return Promise.reject(new TroveError('closed', 'the batcher is closed'));
    if (events.length === 0) return Promise.resolve(undefined);
    if (this.queue.length + events.length > this.maxQueue) {
      return Promise.reject(new TroveError('overloaded',
        `event queue cannot take ${events.length} more events: ${this.queue.length} of ${this.maxQueue} waiting`));
    }
    const sizes = events.map((event) => utf8Length(JSON.stringify(event)) + 1);
    const tooBig = sizes.findIndex((bytes) => bytes > this.maxBatchBytes);
    if (tooBig >= 0) {
      return Promise.reject(new TroveError('message_too_large',
        `event ${tooBig} of ${sizes[tooBig]} bytes cannot fit a 1 MiB message`, { index: tooBig }));
    }
    return new Promise((resolve, reject) => {
      const group = new Group(events.length, resolve, reject);
      events.forEach((event, index) => this.queue.push({ event, bytes: sizes[index], resolve: group.done, reject: group.fail, index }));
      this.schedule();
    });
  }

  /** Refuses new events; queued ones are still sent. */
  async close(): Promise<void> {
    this.closed = true;
    await this.flush();
  }
}

/** The callbacks a group of events shares: settles once, when the last is acked or the first fails. */
class Group {
  private left: number;
  private settled = false;

  constructor(count: number, private readonly resolveAll: (ack: EventsAck) => void,
    private readonly rejectAll: (error: TroveError) => void) {
    this.left = count;
  }

  readonly done = (ack: EventsAck): void => {
    this.left -= 1;
    if (this.left === 0 && !this.settled) {
      this.settled = true;
      this.resolveAll(ack);
    }
  };

  /** The first failure settles the group; an `invalid_event` names the event's index in the group. */
  readonly fail = (error: TroveError, index: number): void => {
    if (this.settled) return;
    this.settled = true;
    this.rejectAll(error.code === 'invalid_event' ? new TroveError('invalid_event', error.message, { index }) : error);
  };
}

function clamp(n: number, lo: number, hi: number): number {
  return Math.min(hi, Math.max(lo, Math.floor(n)));
}

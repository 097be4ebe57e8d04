// One WebSocket and its lifecycle: `Connection` numbers requests, routes
// replies by id and pushes by subscription (`SubscriptionHandler`), and on a
// lost socket fails plain requests with `disconnected`, reconnects with
// `Backoff`, re-subscribes every subscription (asking each for its resume
// parameters) and re-sends every unanswered claim unchanged (same
// `claim_id`). Every queue is bounded: `maxPending` requests in flight or
// awaiting resend; beyond it a request is refused with `overloaded`.

import { Backoff, type BackoffOptions } from './backoff.js';
import { MAX_MESSAGE_BYTES, frameBytes, type Codec, type Frame, type Message } from './codec.js';
import { TroveError, fromWire } from './errors.js';
import { openSocket, type AuthMode, type Socket } from './transport.js';

export interface ConnectionOptions {
  httpUrl: string;
  wsUrl: string;
  key: string;
  codec: Codec;
  auth: AuthMode;
  connectTimeoutMs: number;
  requestTimeoutMs: number;
  claimTimeoutMs: number;
  maxPending: number;
  claimRetries: number;
  backoff: BackoffOptions;
  maxReconnectAttempts: number;
  webSocket?: unknown;
}

/** Lifecycle notifications (for logs, metrics and tests). */
export interface ConnectionEvents {
  connecting?: (attempt: number) => void;
  open?: () => void;
  disconnect?: (code: number, reason: string) => void;
  failed?: (error: TroveError) => void;
  /** An error reply with `id: null` (a frame the server could not read). */
  orphanError?: (error: TroveError) => void;
}

/** A subscription as the connection keeps it across reconnects. */
export interface SubscriptionHandler {
  /** The subscribe request's fields (without id/op); asked again on every reconnect. */
  request(): Message;
  push(message: Message): void;
  /** The subscription ended (error), or the client closed (null). */
  end(error: TroveError | null): void;
}

interface Pending {
  id: number;
  message: Message;
  /** `message` encoded once; every (re)transmission sends these bytes. */
  frame: Frame;
  claim: boolean;
  retries: number;
  resolve(reply: Message): void;
  reject(error: TroveError): void;
  /** Runs synchronously on the success reply, before any later frame (binds subscriptions before their pushes). */
  onOk?: (reply: Message) => void;
  timer?: ReturnType<typeof setTimeout>;
}

type State = 'idle' | 'open' | 'reconnecting' | 'closed';

export class Connection {
  private state: State = 'idle';
  private socket: Socket | undefined;
  private readonly pending = new Map<number, Pending>();
  private readonly subs = new Map<SubscriptionHandler, number | undefined>();
  private readonly byServerId = new Map<number, SubscriptionHandler>();
  private readonly backoff: Backoff;
  private nextId = 1;
  private fatal: TroveError | undefined;
  readonly stats = { connectAttempts: 0, connects: 0, disconnects: 0, resentClaims: 0 };

  constructor(private readonly options: ConnectionOptions, private readonly events: ConnectionEvents = {}) {
    this.backoff = new Backoff(options.backoff);
  }

  get isOpen(): boolean {
    return this.state === 'open';
  }

  /** Requests in flight or awaiting resend. */
  get pendingCount(): number {
    return this.pending.size;
  }

  /** Bytes the socket has not written yet. */
  get bufferedAmount(): number {
    return this.socket?.bufferedAmount ?? 0;
  }

  /** First connect: one attempt; rejects with the typed cause (no retry loop on `unauthorized`). */
  async connect(): Promise<void> {
    if (this.state !== 'idle') throw new TroveError('closed', 'connect() may be called once');
    try {
      await this.attach();
    } catch (error) {
      this.state = 'closed';
      this.fatal = error as TroveError;
      throw error;
    }
  }

  /** Sends one op; resolves with the success reply, rejects with a TroveError. Claims survive reconnects. */
  request(op: string, fields: Message, claim = false, onOk?: (reply: Message) => void): Promise<Message> {
    const refused = this.refusal(claim);
    if (refused) return Promise.reject(refused);
    const id = this.nextId++;
    const message = { id, op, ...fields };
    const encoded = this.options.codec.encode(message);
    if (frameBytes(encoded) > MAX_MESSAGE_BYTES) {
      return Promise.reject(new TroveError('message_too_large', `message of ${frameBytes(encoded)} bytes is over the 1 MiB limit`));
    }
    return new Promise((resolve, reject) => {
      const p: Pending = { id, message, frame: encoded, claim, retries: 0, resolve, reject, onOk };
      this.pending.set(id, p);
      this.arm(p);
      if (this.state === 'open') this.transmit(p);
    });
  }

  private refusal(claim: boolean): TroveError | undefined {
    if (this.state === 'closed') return this.fatal ?? new TroveError('closed', 'the client is closed');
    if (this.pending.size >= this.options.maxPending) {
      return new TroveError('overloaded', `client queue full: ${this.options.maxPending} requests pending`);
    }
    if (this.state !== 'open' && !claim) return new TroveError('disconnected', 'not connected (reconnecting)');
    return undefined;
  }

  private arm(p: Pending): void {
    const ms = p.claim ? this.options.claimTimeoutMs : this.options.requestTimeoutMs;
    if (ms <= 0) return;
    p.timer = setTimeout(() => {
      this.settle(p.id)?.reject(new TroveError('timeout', `no answer to ${String(p.message.op)} within ${ms} ms`));
    }, ms);
  }

  private settle(id: number): Pending | undefined {
    const p = this.pending.get(id);
    if (!p) return undefined;
    this.pending.delete(id);
    if (p.timer) clearTimeout(p.timer);
    return p;
  }

  private transmit(p: Pending): void {
    try {
      this.socket?.send(p.frame);
    } catch {
      // The socket is closing; onClose handles the request.
    }
  }

  /**
   * Starts a subscription, kept across reconnects (re-subscribed with its
   * handler's current `request()`). Resolves with the server's subscription
   * id. With `tolerant`, a lost connection is not an error: the
   * subscription starts at the next reconnect (resolves undefined).
   */
  async subscribe(handler: SubscriptionHandler, tolerant = false): Promise<number | undefined> {
    if (this.state === 'reconnecting' && tolerant) {
      this.subs.set(handler, undefined);
      return undefined;
    }
    let serverId: number | undefined;
    const request = this.request('subscribe', handler.request(), false, (reply) => { serverId = this.bind(handler, reply); });
    this.subs.set(handler, undefined);
    try {
      await request;
    } catch (error) {
      if (tolerant && (error as TroveError).code === 'disconnected' && this.subs.has(handler)) return undefined;
      this.subs.delete(handler);
      throw error;
    }
    return serverId;
  }

  private bind(handler: SubscriptionHandler, reply: Message): number {
    const serverId = Number(reply.subscription);
    if (!this.subs.has(handler)) {
      if (this.state === 'open') this.request('unsubscribe', { subscription: serverId }).catch(() => {});
      return serverId;
    }
    this.subs.set(handler, serverId);
    this.byServerId.set(serverId, handler);
    return serverId;
  }

  /** Ends a subscription (server-side too when connected). */
  async unsubscribe(handler: SubscriptionHandler): Promise<void> {
    const serverId = this.subs.get(handler);
    this.subs.delete(handler);
    if (serverId === undefined) return;
    this.byServerId.delete(serverId);
    if (this.state === 'open') await this.request('unsubscribe', { subscription: serverId });
  }

  private async attach(): Promise<void> {
    this.stats.connectAttempts += 1;
    this.events.connecting?.(this.stats.connectAttempts);
    const o = this.options;
    const socket = await openSocket({
      httpUrl: o.httpUrl, wsUrl: o.wsUrl, key: o.key, codec: o.codec, auth: o.auth,
      timeoutMs: o.connectTimeoutMs, webSocket: o.webSocket,
    });
    if (this.state === 'closed') {
      socket.close(1000);
      return;
    }
    this.socket = socket;
    socket.onFrame = (frame) => this.onFrame(frame);
    socket.onClose = (code, reason) => this.onClose(socket, code, reason);
    this.state = 'open';
    this.stats.connects += 1;
    this.backoff.reset();
    this.events.open?.();
  }

  private onFrame(frame: string | Uint8Array): void {
    const message = this.options.codec.decode(frame);
    if (!message) return;
    if (typeof message.push === 'string') {
      this.byServerId.get(Number(message.subscription))?.push(message);
      return;
    }
    if (message.id === null || message.id === undefined) {
      this.events.orphanError?.(fromWire(message.error));
      return;
    }
    this.onReply(Number(message.id), message);
  }

  private onReply(id: number, message: Message): void {
    const p = this.pending.get(id);
    if (!p) return;
    if (message.ok === true) {
      p.onOk?.(message);
      this.settle(id)?.resolve(message);
      return;
    }
    const error = fromWire(message.error);
    if (p.claim && error.retryable && p.retries < this.options.claimRetries) {
      p.retries += 1;
      setTimeout(() => { if (this.pending.get(id) === p && this.state === 'open') this.transmit(p); }, new Backoff(this.options.backoff).next() + 50 * p.retries);
      return;
    }
    this.settle(id)?.reject(error);
  }

  private onClose(socket: Socket, code: number, reason: string): void {
    if (socket !== this.socket) return;
    this.socket = undefined;
    if (this.state === 'closed') return;
    this.state = 'reconnecting';
    this.stats.disconnects += 1;
    this.events.disconnect?.(code, reason);
    this.failPlainRequests();
    this.byServerId.clear();
    for (const handler of this.subs.keys()) this.subs.set(handler, undefined);
    void this.reconnect();
  }

  private failPlainRequests(): void {
    for (const p of [...this.pending.values()]) {
      if (!p.claim) this.settle(p.id)?.reject(new TroveError('disconnected', `connection lost before the answer to ${String(p.message.op)}`));
    }
  }

  private async reconnect(): Promise<void> {
    while (this.state === 'reconnecting') {
      if (this.backoff.attempt >= this.options.maxReconnectAttempts) {
        this.fail(new TroveError('disconnected', `gave up after ${this.backoff.attempt} reconnect attempts`));
        return;
      }
      await new Promise((r) => setTimeout(r, this.backoff.next()));
      if (this.state !== 'reconnecting') return;
      try {
        await this.attach();
      } catch (error) {
        if ((error as TroveError).code === 'unauthorized') this.fail(error as TroveError);
        continue;
      }
      if ((this.state as State) === 'open') this.resume();
      return;
    }
  }

  /** After a reconnect: re-subscribe, then re-send unanswered claims. */
  private resume(): void {
    const claims = [...this.pending.values()].filter((p) => p.claim);
    for (const handler of [...this.subs.keys()]) void this.resubscribe(handler);
    for (const p of claims) {
      this.stats.resentClaims += 1;
      this.transmit(p);
    }
  }

  private async resubscribe(handler: SubscriptionHandler): Promise<void> {
    try {
      await this.request('subscribe', handler.request(), false, (reply) => this.bind(handler, reply));
    } catch (error) {
      if ((error as TroveError).code === 'disconnected' || !this.subs.has(handler)) return; // the next reconnect retries
      this.subs.delete(handler);
      handler.end(error as TroveError);
    }
  }

  private fail(error: TroveError): void {
    this.fatal = error;
    this.shutdown(error);
    this.events.failed?.(error);
  }

  /** Closes for good: pending requests reject with `closed`, subscriptions end. */
  close(): void {
    if (this.state === 'closed') return;
    this.shutdown(null);
  }

  private shutdown(error: TroveError | null): void {
    this.state = 'closed';
    const socket = this.socket;
    this.socket = undefined;
    socket?.close(1000, 'client closed');
    const cause = error ?? new TroveError('closed', 'the client was closed');
    for (const p of [...this.pending.values()]) this.settle(p.id)?.reject(cause);
    const handlers = [...this.subs.keys()];
    this.subs.clear();
    this.byServerId.clear();
    for (const handler of handlers) handler.end(error);
  }
}

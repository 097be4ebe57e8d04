// Opening one WebSocket: `openSocket` returns a `Socket` (a small adapter
// over `ws` on Node and the native WebSocket in browsers). On Node the key
// goes in `Authorization: Bearer`; in browsers (or with `auth: 'ticket'`)
// a one-use ticket from `POST /v1/ws/ticket` goes in `?ticket=`.

import type { Codec, Frame } from './codec.js';
import { TroveError, fromWire } from './errors.js';

export type AuthMode = 'header' | 'ticket';

/** The socket as the connection layer sees it. */
export interface Socket {
  send(frame: Frame): void;
  close(code?: number, reason?: string): void;
  /** Bytes queued in the socket not yet written. */
  readonly bufferedAmount: number;
  onFrame: (frame: Frame) => void;
  onClose: (code: number, reason: string) => void;
}

export interface OpenOptions {
  httpUrl: string;
  wsUrl: string;
  key: string;
  codec: Codec;
  auth: AuthMode;
  timeoutMs: number;
  /** A WebSocket constructor to use instead of the default (native or `ws`). */
  webSocket?: unknown;
}

export const isNode = (): boolean =>
  typeof process !== 'undefined' && typeof process.versions === 'object' && !!process.versions.node;

/** Derives the HTTP base URL and the WebSocket URL from a base URL. */
export function urlsFor(url: string): { httpUrl: string; wsUrl: string } {
  const u = new URL(url);
  if (u.protocol === 'ws:') u.protocol = 'http:';
  if (u.protocol === 'wss:') u.protocol = 'https:';
  const base = u.origin;
  const wsUrl = `${base.replace(/^http/, 'ws')}/v1/ws`;
  return { httpUrl: base, wsUrl };
}

/** Asks the server for a one-use WebSocket ticket. */
export async function fetchTicket(httpUrl: string, key: string): Promise<string> {
  let response: Response;
  try {
    response = await fetch(`${httpUrl}/v1/ws/ticket`, { method: 'POST', headers: { Authorization: `Bearer ${key}` } });
  } catch (error) {
    throw new TroveError('disconnected', `ticket request failed: ${(error as Error).message}`);
  }
  const body = await response.json().catch(() => ({}));
  if (!response.ok) throw fromWire((body as { error?: unknown }).error, response.status);
  return (body as { ticket: string }).ticket;
}

/** One attempt to open the WebSocket. Rejects with `unauthorized` on a 401. */
export async function openSocket(options: OpenOptions): Promise<Socket> {
  const useWsPackage = options.webSocket === undefined && isNode();
  let url = options.wsUrl;
  if (options.auth === 'ticket') url += `?ticket=${encodeURIComponent(await fetchTicket(options.httpUrl, options.key))}`;
  if (useWsPackage) return openNode(url, options);
  const Ctor = (options.webSocket ?? (globalThis as { WebSocket?: unknown }).WebSocket) as typeof WebSocket | undefined;
  if (!Ctor) throw new TypeError('no WebSocket implementation: pass options.webSocket');
  return openNative(Ctor, url, options);
}

async function openNode(url: string, options: OpenOptions): Promise<Socket> {
  const { default: WS } = await import('ws');
  const headers: Record<string, string> = options.auth === 'header' ? { Authorization: `Bearer ${options.key}` } : {};
  const protocols = options.codec.subprotocol ? [options.codec.subprotocol] : [];
  const ws = new WS(url, protocols, { headers, handshakeTimeout: options.timeoutMs, maxPayload: 64 * 1024 * 1024 });
  const socket: Socket = {
    send: (frame) => ws.send(frame),
    close: (code, reason) => ws.close(code, reason),
    get bufferedAmount() { return ws.bufferedAmount; },
    onFrame: () => {},
    onClose: () => {},
  };
  await new Promise<void>((resolve, reject) => {
    ws.once('open', () => resolve());
    let refused = false;
    ws.once('unexpected-response', (_req, res) => {
      refused = true;
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => { if (chunks.length < 16) chunks.push(c); });
      res.on('end', () => { reject(refusal(res.statusCode ?? 0, Buffer.concat(chunks).toString('utf8'))); ws.terminate(); });
      res.on('error', () => reject(refusal(res.statusCode ?? 0, '')));
    });
    ws.on('error', (error) => { if (!refused) reject(new TroveError('disconnected', `connect failed: ${error.message}`)); });
  });
  ws.on('message', (data: Buffer, isBinary: boolean) => socket.onFrame(isBinary ? new Uint8Array(data) : data.toString('utf8')));
  ws.on('close', (code: number, reason: Buffer) => socket.onClose(code, reason.toString('utf8')));
  ws.on('error', () => {});
  return socket;
}

function refusal(status: number, body: string): TroveError {
  try {
    return fromWire(JSON.parse(body).error, status);
  } catch {
    const code = status === 401 ? 'unauthorized' : 'disconnected';
    return new TroveError(code, `upgrade refused: HTTP ${status}`, { status });
  }
}

function openNative(Ctor: typeof WebSocket, url: string, options: OpenOptions): Promise<Socket> {
  const ws = options.codec.subprotocol ? new Ctor(url, [options.codec.subprotocol]) : new Ctor(url);
  ws.binaryType = 'arraybuffer';
  const socket: Socket = {
    send: (frame) => ws.send(frame),
    close: (code, reason) => ws.close(code, reason),
    get bufferedAmount() { return ws.bufferedAmount; },
    onFrame: () => {},
    onClose: () => {},
  };
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => { ws.close(); reject(new TroveError('timeout', 'connect timed out')); }, options.timeoutMs);
    ws.onopen = () => { clearTimeout(timer); resolve(socket); };
    ws.onerror = () => { clearTimeout(timer); reject(new TroveError('disconnected', 'connect failed')); };
    ws.onmessage = (e: MessageEvent) => socket.onFrame(typeof e.data === 'string' ? e.data : new Uint8Array(e.data as ArrayBuffer));
    ws.onclose = (e: CloseEvent) => { clearTimeout(timer); socket.onClose(e.code, e.reason); };
  });
}

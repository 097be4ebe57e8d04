// The HTTP API: `HttpApi`, for designers (defineHunt, getHunt, listHunts,
// addStock), auditors (auditClaims, and auditExport: an async iterator over
// the streamed `GET /v1/audit/export`) and simple clients. Failures are
// `TroveError`s with the server's code and the HTTP `status`.

import { TroveError, fromWire } from './errors.js';
import type { ClaimRequest, ClaimResult, DefineHuntResult, EventsAck, GameEvent, Hunt, HuntDefinition, Leaderboard, PlayerView, StockResult } from './types.js';

export interface AuditClaim extends ClaimResult {
  at: number;
  player: string;
  hunt: string;
  sku: string;
  customs: unknown;
}

export interface AuditClaimsPage {
  next_after: number;
  claims: AuditClaim[];
}

/** Filters of `GET /v1/audit/export` (all optional). */
export interface ExportParams {
  format?: 'jsonl' | 'csv';
  from?: string | number;
  to?: string | number;
  hunt?: string;
  player?: string;
  type?: string;
  after_seq?: number;
  until_seq?: number;
  no_proof?: boolean;
}

/** Longest export line accepted (a block line with many leaves is the longest). */
const MAX_LINE_CHARS = 64 * 1024 * 1024;

export class HttpApi {
  constructor(readonly baseUrl: string, private readonly key: string) {}

  /** One request; resolves with the JSON body, throws a TroveError for a non-2xx answer. A string body is sent as is. */
  async request<T = Record<string, unknown>>(method: string, path: string, body?: unknown): Promise<T> {
    const response = await this.send(method, path, body);
    const text = await response.text();
    let parsed: unknown = null;
    try { parsed = JSON.parse(text); } catch { /* not JSON */ }
    if (!response.ok) {
      const error = (parsed as { error?: unknown } | null)?.error ?? { code: 'internal', message: text.slice(0, 200) };
      throw fromWire(error, response.status);
    }
    return parsed as T;
  }

  private async send(method: string, path: string, body?: unknown): Promise<Response> {
    const headers: Record<string, string> = { Authorization: `Bearer ${this.key}` };
    if (body !== undefined) headers['Content-Type'] = 'application/json';
    try {
      return await fetch(`${this.baseUrl}${path}`, {
        method, headers, body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
      });
    } catch (error) {
      throw new TroveError('disconnected', `${method} ${path} failed: ${(error as Error).message}`);
    }
  }

  whoami(): Promise<{ role: string; may: string[] }> {
    return this.request('GET', '/v1/whoami');
  }

  defineHunt(hunt: HuntDefinition): Promise<DefineHuntResult> {
    return this.request('POST', '/v1/hunts', hunt);
  }

  getHunt(hunt: string): Promise<Hunt> {
    return this.request('GET', `/v1/hunts/${encodeURIComponent(hunt)}`);
  }

  async listHunts(): Promise<string[]> {
    return (await this.request<{ hunts: string[] }>('GET', '/v1/hunts')).hunts;
  }

  addStock(hunt: string, sku: string, add: number): Promise<StockResult> {
    return this.request('POST', `/v1/hunts/${encodeURIComponent(hunt)}/products/${encodeURIComponent(sku)}/stock`, { add });
  }

  events(events: GameEvent[]): Promise<EventsAck> {
    return this.request('POST', '/v1/events', { events });
  }

  claim(claim: ClaimRequest): Promise<ClaimResult> {
    return this.request('POST', '/v1/claims', claim);
  }

  player(hunt: string, player: string): Promise<PlayerView> {
    return this.request('GET', `/v1/hunts/${encodeURIComponent(hunt)}/players/${encodeURIComponent(player)}`);
  }

  leaderboard(hunt: string, options: { limit?: number; around?: string } = {}): Promise<Leaderboard> {
    return this.request('GET', `/v1/hunts/${encodeURIComponent(hunt)}/leaderboard${query(options)}`);
  }

  /** One page of decided claims (granted and rejected) after `after`. */
  auditClaims(options: { after?: number; limit?: number } = {}): Promise<AuditClaimsPage> {
    return this.request('GET', `/v1/audit/claims${query(options)}`);
  }

  /** Every decided claim, paging until the end. */
  async *allAuditClaims(limit = 1000): AsyncGenerator<AuditClaim> {
    let after = 0;
    for (;;) {
      const page = await this.auditClaims({ after, limit });
      yield* page.claims;
      if (page.next_after <= after) return;
      after = page.next_after;
    }
  }

  /**
   * The streamed audit export, line by line: parsed records for `jsonl`
   * (header, block, record, footer), raw lines for `csv` or with `raw`.
   * Throws `disconnected` when the stream ends without its footer (jsonl),
   * and `internal` on an in-stream error line.
   */
  async *auditExport(params: ExportParams = {}, options: { raw?: boolean } = {}): AsyncGenerator<string | Record<string, unknown>> {
    const response = await this.send('GET', `/v1/audit/export${query(params as Record<string, unknown>)}`);
    if (!response.ok) throw fromWire(((await response.json().catch(() => ({}))) as { error?: unknown }).error, response.status);
    const jsonl = (params.format ?? 'jsonl') === 'jsonl';
    let footer = false;
    for await (const line of lines(response)) {
      if (!jsonl || options.raw) { yield line; continue; }
      const record = JSON.parse(line) as Record<string, unknown>;
      if (record.type === 'error') throw new TroveError('internal', `export failed: ${String(record.message)}`);
      footer = record.type === 'footer';
      yield record;
    }
    if (jsonl && !footer) throw new TroveError('disconnected', 'the export ended without its footer (incomplete)');
  }
}

async function* lines(response: Response): AsyncGenerator<string> {
  if (!response.body) return;
  const decoder = new TextDecoder();
  let rest = '';
  const reader = response.body.getReader();
  try {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      rest += decoder.decode(value, { stream: true });
      const parts = rest.split('\n');
      rest = parts.pop() ?? '';
      if (rest.length > MAX_LINE_CHARS) throw new TroveError('message_too_large', 'export line over 64 MiB');
      for (const part of parts) if (part) yield part;
    }
  } catch (error) {
    if (error instanceof TroveError) throw error;
    throw new TroveError('disconnected', `export stream broke: ${(error as Error).message}`);
  } finally {
    reader.releaseLock();
  }
  rest += decoder.decode();
  if (rest) yield rest;
}

function query(params: Record<string, unknown>): string {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== undefined && v !== null) q.set(k, String(v));
  const s = q.toString();
  return s ? `?${s}` : '';
}

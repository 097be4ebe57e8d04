// Protocol documents: `GameEvent`, `ClaimRequest`/`ClaimResult`,
// `PlayerView`, `Leaderboard`, `ClaimPush`, `HuntDefinition`/`Hunt`, as in
// docs/PROTOCOL.md. Unknown fields the server adds are kept, not stripped.

export type EventType = 'clue_found' | 'checkin' | 'interaction';

export interface GameEvent {
  player: string;
  hunt: string;
  type: EventType | string;
  clue?: string;
  location?: string;
  kind?: string;
}

export interface EventsAck {
  accepted: number;
  seq: number;
}

export interface ClaimRequest {
  /** Chosen by the caller, scoped to the player; the idempotency key of the claim. */
  claim_id: string;
  player: string;
  hunt: string;
  sku: string;
  customs?: Record<string, unknown> | null;
}

export type RejectReason = 'out_of_stock' | 'not_eligible' | 'limit_reached' | 'hunt_closed' | 'unknown_hunt' | 'unknown_product';

export interface ClaimResult {
  claim_id: string;
  status: 'granted' | 'rejected';
  reason?: RejectReason | string;
  duplicate: boolean;
  seq: number;
}

export interface PlayerClaim {
  claim_id: string;
  sku: string;
  status: 'granted' | 'rejected' | 'pending';
  reason?: string;
  pending: boolean;
  seq?: number;
}

export interface PlayerView {
  player: string;
  hunt: string;
  score: number;
  events: number;
  clues: string[];
  claims: PlayerClaim[];
}

export interface LeaderboardEntry {
  rank: number;
  player: string;
  score: number;
}

export interface Leaderboard {
  hunt: string;
  as_of_seq: number;
  entries: LeaderboardEntry[];
}

/** One granted claim of the dispatch feed. `(player, claim_id)` is its idempotency key. */
export interface ClaimPush {
  cursor: number;
  claim_id: string;
  player: string;
  hunt: string;
  sku: string;
  customs: unknown;
  at: number;
}

export interface Clue {
  id: string;
  points?: number;
}

export interface ProductDefinition {
  sku: string;
  stock?: number;
  per_player_limit?: number;
  min_score?: number;
}

export interface HuntDefinition {
  id: string;
  name?: string;
  opens_at?: string | number | null;
  closes_at?: string | number | null;
  clues?: Clue[];
  products?: ProductDefinition[];
}

export interface ProductLedger extends Required<ProductDefinition> {
  remaining: number;
  granted: number;
  added: number;
}

export interface Hunt {
  id: string;
  name: string;
  opens_at: number | null;
  closes_at: number | null;
  clues: Required<Clue>[];
  products: ProductLedger[];
  defined_seq: number;
}

export interface DefineHuntResult {
  id: string;
  created: boolean;
  seq: number;
}

export interface StockResult {
  hunt: string;
  sku: string;
  added: number;
  remaining: number;
  seq: number;
}

// Reconnect delays: `Backoff`, exponential with full jitter and a cap.

export interface BackoffOptions {
  /** First ceiling in ms (default 100). */
  baseMs?: number;
  /** Largest delay in ms (default 5000). */
  capMs?: number;
}

/** Attempt n waits a uniformly random time in [0, min(cap, base * 2^n)]. */
export class Backoff {
  private readonly baseMs: number;
  private readonly capMs: number;
  attempt = 0;

  constructor(options: BackoffOptions = {}, private readonly random: () => number = Math.random) {
    this.baseMs = options.baseMs ?? 100;
    this.capMs = options.capMs ?? 5000;
  }

  next(): number {
    const ceiling = Math.min(this.capMs, this.baseMs * 2 ** Math.min(this.attempt, 30));
    this.attempt += 1;
    return Math.floor(this.random() * ceiling);
  }

  reset(): void {
    this.attempt = 0;
  }
}

export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

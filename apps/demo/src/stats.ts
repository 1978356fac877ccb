import { hostname } from 'node:os';
import type { ProcessStats } from './store';

/**
 * This process's live counters. The web app and the TCP chat bump them; `/stats` publishes a
 * snapshot through the store so every process can show every other.
 */
export class Counters {
  readonly pid = process.pid;
  readonly hostname = hostname();
  readonly startedAt = Date.now();
  /** Requests answered (counted by the application's log function). */
  requests = 0;
  /** Requests answered, by status class (`2xx`...). */
  readonly byStatus: Record<string, number> = {};
  /** Reads how many HTTP connections are open now (set to the HTTPServer's count when serving). */
  openConnections: () => number = () => 0;
  /** Long polls waiting now. */
  longPolls = 0;
  /** Requests being handled now (for the SIGTERM drain). */
  inFlight = 0;
  /** Reads the TCP chat's client count (set when the line chat is running). */
  lineClients: () => number = () => 0;

  constructor(readonly taskId: number | null = null) {}

  /** `hostname:pid`: the key of this process on `/stats`. */
  get key(): string {
    return `${this.hostname}:${this.pid}`;
  }

  /** Counts one answered request with its status. */
  countRequest(status: number): void {
    this.requests++;
    const cls = `${Math.floor(status / 100)}xx`;
    this.byStatus[cls] = (this.byStatus[cls] ?? 0) + 1;
  }

  /** A snapshot for {@link MessageStore.reportStats}. */
  snapshot(): ProcessStats {
    return {
      key: this.key,
      pid: this.pid,
      hostname: this.hostname,
      taskId: this.taskId,
      startedAt: this.startedAt,
      updatedAt: Date.now(),
      requests: this.requests,
      openConnections: this.openConnections(),
      longPolls: this.longPolls,
      lineClients: this.lineClients(),
      rssBytes: process.memoryUsage.rss(),
    };
  }
}

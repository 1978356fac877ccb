/**
 * @internal A monotonic clock (milliseconds, `performance.now()`) read at most once per request:
 * inside {@link enterTurn}/{@link leaveTurn} (a connection handling the bytes that just arrived)
 * the first reading is shared until {@link nextReading} (a new request starts), so parsing,
 * answering and re-arming a request's timeout cost one clock read, and a reading is never older
 * than the request it was taken for. Outside a turn every call reads the clock.
 *
 * @module
 */

let depth = 0;
let turnNow = -1;

/** Starts a turn (turns nest; the outermost one owns the reading). */
export function enterTurn(): void {
  depth++;
}

/** Ends a turn; the shared reading is dropped with the outermost one. */
export function leaveTurn(): void {
  if (--depth === 0) turnNow = -1;
}

/** Drops the shared reading: the next {@link clockNow} in this turn reads the clock again. */
export function nextReading(): void {
  turnNow = -1;
}

/** Milliseconds on the monotonic clock (`performance.now()`), shared within a turn. */
export function clockNow(): number {
  if (depth === 0) return performance.now();
  if (turnNow < 0) turnNow = performance.now();
  return turnNow;
}

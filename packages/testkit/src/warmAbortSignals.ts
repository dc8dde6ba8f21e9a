/**
 * Aborts `n` AbortSignals that each have an object listener (`{ handleEvent }`, as core's
 * SignalGroups adds), so that a heap bound measured afterwards sees what the code under test
 * keeps, not Node's own bookkeeping: Node 24 keeps a table sized by the most such signals it has
 * seen (about 44 bytes each, flat over repeated rounds), which Node 20 does not.
 */
export function warmAbortSignals(n: number): void {
  const listener = { handleEvent() {} };
  for (let i = 0; i < n; i++) {
    const ac = new AbortController();
    ac.signal.addEventListener('abort', listener, { once: true });
    ac.abort('warm-up');
  }
}

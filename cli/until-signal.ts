/**
 * Lifetime of the CLI's long-running commands (`local cloud`): the action awaits `untilSignal()`, closes what
 * it started and returns, so `main` exits 0 after a clean close instead of the moment the action returns.
 */
export function untilSignal(signals: readonly NodeJS.Signals[] = ['SIGINT', 'SIGTERM']): Promise<NodeJS.Signals> {
  return new Promise((resolve) => {
    const on = (s: NodeJS.Signals) => {
      for (const x of signals) process.off(x, on);
      resolve(s);
    };
    for (const s of signals) process.on(s, on);
  });
}

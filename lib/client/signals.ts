/**
 * Ctrl-C and SIGTERM for every session of the process through one listener per signal, installed
 * only while some session asked for it (`connect({ handleSignals: true })`, or during `run()`), so
 * any number of sessions add no listeners of their own (and no MaxListenersExceededWarning).
 */

/** What a session does with a signal: true when it took care of it (a `run()` returned). */
export type SignalHandler = (signal: NodeJS.Signals) => boolean | Promise<boolean>;

const SIGNALS: NodeJS.Signals[] = ['SIGINT', 'SIGTERM'];
const handlers = new Set<SignalHandler>();

function onSignal(signal: NodeJS.Signals): void {
  void Promise.allSettled([...handlers].map(async (handle) => handle(signal))).then((results) => {
    const handled = results.some((r) => r.status === 'fulfilled' && r.value);
    // Nobody meant to carry on: end as the program would have without us (unless it listens itself).
    if (!handled && process.listenerCount(signal) === 0) process.kill(process.pid, signal);
  });
}

/** Send SIGINT and SIGTERM to `handler` until the returned function is called. */
export function onProcessSignals(handler: SignalHandler): () => void {
  handlers.add(handler);
  if (handlers.size === 1) for (const s of SIGNALS) process.on(s, onSignal);
  return () => {
    if (!handlers.delete(handler) || handlers.size > 0) return;
    for (const s of SIGNALS) process.off(s, onSignal);
  };
}

/**
 * The last-resort guard: no handler, stream or socket error may end the location process, because
 * that drops every session of every user. Each session's frame handling runs inside `sessionScope`,
 * so a fault thrown later by anything it started (timers, streams, promises) is attributed to that
 * session: the guard logs it and ends that session only. Faults outside any session are logged.
 *
 * `tfnz location` installs the guard; an embedded LocationServer only when asked (`guardProcess`),
 * since the process belongs to the user's program and so does its policy for uncaught errors.
 */
import { AsyncLocalStorage } from 'node:async_hooks';

export interface FaultScope {
  readonly id: string;
  /** End the session that caused `err`, telling its client why. */
  fault(err: unknown): void;
}

export const sessionScope = new AsyncLocalStorage<FaultScope>();

/** Install the process-level handlers; returns a function that removes them. */
export function installLastResortGuard(log: (line: string) => void): () => void {
  const contain = (kind: string) => (err: unknown) => {
    const scope = sessionScope.getStore();
    const what = err instanceof Error ? (err.stack ?? err.message) : String(err);
    log(`contained ${kind}${scope ? ` in session ${scope.id} (ending it)` : ' outside any session'}: ${what}`);
    try {
      scope?.fault(err);
    } catch (inner) {
      log(`could not end session ${scope?.id}: ${String(inner)}`);
    }
  };
  const onException = contain('an uncaught exception');
  const onRejection = contain('an unhandled rejection');
  process.on('uncaughtException', onException);
  process.on('unhandledRejection', onRejection);
  return () => {
    process.off('uncaughtException', onException);
    process.off('unhandledRejection', onRejection);
  };
}

/**
 * Test-only: with TFNZ_FAULT_INJECTION=1 in the location's environment, the command `inject_fault`
 * throws outside any handler (`{ kind: 'throw' }`) or rejects a promise nobody awaits
 * (`{ kind: 'reject' }`), as a bug in a stream callback would. Without the variable it is unknown.
 */
export function injectedFault(command: string, params: unknown): (() => Promise<unknown>) | undefined {
  if (command !== 'inject_fault' || process.env.TFNZ_FAULT_INJECTION !== '1') return undefined;
  const kind = (params as { kind?: unknown } | null)?.kind;
  return async () => {
    if (kind === 'reject') void Promise.reject(new Error('injected fault: a promise nobody handles'));
    else setTimeout(() => {
      throw new Error('injected fault: a throw in a callback');
    }, 10);
    return {};
  };
}

/**
 * Events meant for every session of one user (volumes made by any of them, tagged containers seen
 * as externals), whichever session caused them.
 */
import { preEncodeEvent, type EncodedEvent, type EventName, type Events } from '../protocol';

export interface UserSession {
  readonly id: string;
  readonly user: string;
  emit<E extends EventName>(event: E, params: Events[E]): void;
  /** Send an event encoded once for many sessions. */
  emitEncoded(encoded: EncodedEvent): void;
}

export class UserChannels {
  private readonly sessions = new Set<UserSession>();

  join(session: UserSession): () => void {
    this.sessions.add(session);
    return () => this.sessions.delete(session);
  }

  /** Send to every session of `user`, but the one named in `except`. */
  emit<E extends EventName>(user: string, event: E, params: Events[E], except?: string): void {
    let encoded: EncodedEvent | undefined; // encoded once, on the first session that gets it
    for (const s of this.sessions) {
      if (s.user === user && s.id !== except) s.emitEncoded((encoded ??= preEncodeEvent(event, params)));
    }
  }
}

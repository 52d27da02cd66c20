/**
 * What a handler is: a function of the session and the parameters the dispatcher has already
 * checked against the catalogue, so a handler reads typed fields and checks only what needs the
 * location's state (does the container exist, is the id free).
 */
import type { CommandName, MessageName, ResultOf, ValidMessageOf, ValidParamsOf } from '../../protocol';
import type { Session } from '../session';

export type CommandHandler<C extends CommandName> = (s: Session, p: ValidParamsOf<C>) => Promise<ResultOf<C>>;
export type MessageHandler<M extends MessageName> = (s: Session, p: ValidMessageOf<M>, bulk: Uint8Array) => void;

export type CommandHandlers = { [C in CommandName]: CommandHandler<C> };
export type MessageHandlers = { [M in MessageName]: MessageHandler<M> };

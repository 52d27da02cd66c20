/**
 * Every request and one-way message the location answers, assembled from one file per domain,
 * and the one place where an incoming frame's parameters are checked against the catalogue
 * before its handler runs. A command missing here, or a handler reading a field the catalogue
 * does not declare, fails to compile.
 */
import {
  commands, messages,
  type CommandName, type MessageName, type ResultOf, type ValidMessageOf, type ValidParamsOf,
} from '../../protocol';
import type { Session } from '../session';
import type { CommandHandler, CommandHandlers, MessageHandler, MessageHandlers } from './handler';
import { sessionCommands, sessionMessages } from './session';
import { containerCommands, containerMessages } from './containers';
import { processCommands, processMessages } from './processes';
import { fileCommands, fileMessages } from './files';
import { imageCommands, imageMessages } from './images';
import { volumeCommands } from './volumes';
import { networkCommands, networkMessages } from './network';
import { webCommands } from './web';
import { logCommands } from './logs';
import { waitCommands } from './waits';
import { statsCommands } from './stats';
import { buildCommands } from './builds';
import { userContainerCommands } from './user-containers';

export type { CommandHandler, CommandHandlers, MessageHandler, MessageHandlers } from './handler';

export const commandHandlers: CommandHandlers = {
  ...sessionCommands, ...containerCommands, ...processCommands, ...fileCommands,
  ...imageCommands, ...volumeCommands, ...networkCommands, ...webCommands,
  ...logCommands, ...waitCommands, ...statsCommands, // #16
  ...buildCommands, // #19
  ...userContainerCommands, // #20
};

export const messageHandlers: MessageHandlers = {
  ...sessionMessages, ...containerMessages, ...processMessages, ...fileMessages, ...networkMessages, ...imageMessages,
};

/** Check `raw` against the command's schema (BadRequest naming the field), then run its handler. */
export function dispatchCommand<C extends CommandName>(s: Session, name: C, raw: unknown): Promise<ResultOf<C>> {
  const params = commands[name].params.parse(raw, '') as ValidParamsOf<C>;
  return (commandHandlers[name] as CommandHandler<C>)(s, params);
}

/** Check `raw` against the message's schema (BadRequest naming the field), then run its handler. */
export function dispatchMessage<M extends MessageName>(s: Session, name: M, raw: unknown, bulk: Uint8Array): void {
  const params = messages[name].parse(raw, '') as ValidMessageOf<M>;
  (messageHandlers[name] as MessageHandler<M>)(s, params, bulk);
}

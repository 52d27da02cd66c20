/** Persistent volumes: made and destroyed by the user, kept across sessions. */
import type { CommandHandlers } from './handler';

export const volumeCommands = {
  async create_volume(s, p) {
    s.ctx.quotas.volume(s.ctx.volumes.list(s.user).length);
    return { volume: await s.ctx.volumes.create(s.user, p.tag) };
  },

  async destroy_volume(s, p) {
    await s.ctx.volumes.destroy(s.user, p.volume);
    return {};
  },

  async snapshot_volume(s, p) {
    await s.ctx.volumes.snapshot(s.user, p.volume);
    return {};
  },

  async rollback_volume(s, p) {
    await s.ctx.volumes.rollback(s.user, p.volume);
    return {};
  },
} satisfies Partial<CommandHandlers>;

/**
 * The pure fold `(state, action) => state`, built with immer so untouched slices keep their
 * identity and `distinctUntilChanged` on a slice only fires when that slice changed.
 */
import { produce, type Draft } from 'immer';
import type { ContainerInfo, ErrorBody } from '../protocol';
import type { Action, LocationState } from './state';
import { tableDelete, tableDraft, tableSet, tableValues, type Table } from './table';

/** Destroyed containers are kept (for late `termination$` readers) up to this many. */
export const MAX_DESTROYED_KEPT = 1000;

/** Events that carry bytes, not state: passed over without touching the state. */
const STATELESS = new Set([
  'challenge', 'received', 'container_output', 'tunnel_data', 'tunnel_ack', 'tunnel_end', 'tunnel_close', 'error',
  'process_output', 'process_exit', 'file_data', 'file_ack', 'file_end',
]);

/**
 * Fold one event (or local action) into the session state, immutably: the function behind
 * `Location.state$`. Pure, so it also serves tests and replays.
 */
export function reduce(state: LocationState, action: Action): LocationState {
  if ('event' in action && STATELESS.has(action.event)) return state;
  return produce(state, (draft) => {
    if ('type' in action) return applyLocal(draft, action);
    draft.lastSeq = Math.max(draft.lastSeq, action.seq);
    switch (action.event) {
      case 'resource_offer': {
        const offer = action.params;
        draft.session = offer.session;
        draft.user = offer.user;
        draft.location = offer.location;
        draft.nodes = Object.fromEntries(offer.nodes.map((n) => [n.id, n]));
        draft.volumes = Object.fromEntries(offer.volumes.map((v) => [v.id, v]));
        draft.externals = Object.fromEntries(offer.externals.map((e) => [e.id, e]));
        draft.endpoints = Object.fromEntries(offer.endpoints.map((e) => [e.domain, e]));
        // The offer is the truth about live containers; destroyed ones stay as history.
        for (const c of offer.containers) tableSet(draft.containers, c.id, c);
        break;
      }
      case 'node_created':
        draft.nodes[action.params.node.id] = action.params.node;
        break;
      case 'node_destroyed': {
        const node = draft.nodes[action.params.node];
        if (!node) break;
        node.alive = false;
        node.stats = { cpu: 0, memory: 0, paging: 0, containers: 0 };
        const gone: ErrorBody = { code: 'NODE_GONE', message: `node ${node.name} went away` };
        for (const c of tableValues(state.containers)) {
          if (c.node === node.id && c.status !== 'destroyed') markDestroyed(draft, tableDraft(draft.containers, c.id)!, gone);
        }
        break;
      }
      case 'node_stats': {
        const node = draft.nodes[action.params.node];
        if (node && node.alive) node.stats = action.params.stats;
        break;
      }
      case 'external_created':
        draft.externals[action.params.external.id] = action.params.external;
        break;
      case 'external_destroyed':
        delete draft.externals[action.params.external];
        break;
      case 'volume_created':
        draft.volumes[action.params.volume.id] = action.params.volume;
        break;
      case 'volume_destroyed':
        delete draft.volumes[action.params.volume];
        break;
      case 'container_status': {
        const p = action.params;
        const c = tableDraft(draft.containers, p.container);
        if (!c || c.status === 'destroyed') break;
        if (p.privateIp !== undefined) c.privateIp = p.privateIp;
        if (p.sleeping !== undefined) c.sleeping = p.sleeping;
        if (p.exitCode !== undefined) c.exitCode = p.exitCode;
        if (p.error !== undefined) c.error = p.error;
        if (p.status === 'destroyed') markDestroyed(draft, c);
        else c.status = p.status;
        break;
      }
    }
  });
}

function applyLocal(draft: Draft<LocationState>, action: Exclude<Action, { event: string }>): void {
  switch (action.type) {
    case 'container_spawning':
      tableSet(draft.containers, action.container.id, action.container);
      break;
    case 'container_failed': {
      const c = tableDraft(draft.containers, action.container);
      if (c && c.status !== 'destroyed') markDestroyed(draft, c, action.error);
      break;
    }
    case 'tunnel_added':
      draft.tunnels[action.tunnel.id] = action.tunnel;
      break;
    case 'tunnel_removed':
      delete draft.tunnels[action.tunnel];
      break;
    case 'session_lost':
      for (const c of tableValues(draft.containers as Table<ContainerInfo>)) {
        if (c.status !== 'destroyed') markDestroyed(draft, tableDraft(draft.containers, c.id)!, action.error);
      }
      break;
  }
}

/** Destroyed is final: record it, drop its tunnels, and forget the oldest beyond the cap. */
function markDestroyed(draft: Draft<LocationState>, c: Draft<ContainerInfo>, error?: ErrorBody): void {
  c.status = 'destroyed';
  if (error && !c.error) c.error = error;
  for (const t of Object.values(draft.tunnels)) if (t.container === c.id) delete draft.tunnels[t.id];
  draft.destroyedOrder.push(c.id);
  while (draft.destroyedOrder.length > MAX_DESTROYED_KEPT) tableDelete(draft.containers, draft.destroyedOrder.shift()!);
}

/**
 * The pure fold `(state, action) => state`, built with immer so untouched slices keep their
 * identity and `distinctUntilChanged` on a slice only fires when that slice changed.
 */
import { produce, type Draft } from 'immer';
import type { ContainerInfo, ErrorBody, EventOf, NodeInfo } from '../protocol';
import type { Action, LocationState } from './state';
import type { IdMap } from './table';
import { recordOf, recordWith } from './id-record';

/** Destroyed containers are kept (for late `termination$` readers) up to this many. */
export const MAX_DESTROYED_KEPT = 1000;

/** Events that carry bytes, not state: passed over without touching the state. */
const STATELESS = new Set([
  'challenge', 'received', 'container_output', 'tunnel_data', 'tunnel_ack', 'tunnel_end', 'tunnel_close', 'error',
  'process_output', 'file_data', 'file_ack', 'file_end',
]);

type Containers = IdMap<ContainerInfo>;

/**
 * Fold one event (or local action) into the session state, immutably: the function behind
 * `Location.state$`. Pure, so it also serves tests and replays.
 */
export function reduce(state: LocationState, action: Action): LocationState {
  if ('event' in action && STATELESS.has(action.event)) return state;
  if ('event' in action && action.event === 'process_exit' && !state.processes[action.params.process]) return state;
  if ('event' in action && action.event === 'container_status' && action.params.status !== 'destroyed') return containerStatus(state, action.params);
  if ('event' in action && action.event === 'node_stats') return nodeStats(state, action.params);
  return produce(state, (draft) => {
    if ('type' in action) return applyLocal(draft, action);
    switch (action.event) {
      case 'resource_offer': {
        const offer = action.params;
        draft.session = offer.session;
        draft.user = offer.user;
        draft.location = offer.location;
        draft.nodes = recordOf(offer.nodes.map((n) => [n.id, frozenNode(n)]));
        draft.volumes = Object.fromEntries(offer.volumes.map((v) => [v.id, v]));
        draft.externals = Object.fromEntries(offer.externals.map((e) => [e.id, e]));
        draft.endpoints = Object.fromEntries(offer.endpoints.map((e) => [e.domain, e]));
        // The offer is the truth about live containers; destroyed ones stay as history.
        let containers = containersOf(draft);
        for (const c of offer.containers) containers = containers.set(c.id, c);
        setContainers(draft, containers);
        break;
      }
      case 'node_created':
        draft.nodes = recordWith(state.nodes, action.params.node.id, frozenNode(action.params.node));
        break;
      case 'node_destroyed': {
        const node = state.nodes[action.params.node];
        if (!node) break;
        draft.nodes = recordWith(state.nodes, node.id, frozenNode({ ...node, alive: false, stats: { cpu: 0, memory: 0, paging: 0, containers: 0 } }));
        const why = action.params.reason ? `: ${action.params.reason}` : '';
        const gone: ErrorBody = { code: 'NODE_GONE', message: `node ${node.name} went away${why}` };
        for (const c of state.containers.values()) {
          if (c.node === node.id && c.status !== 'destroyed') markDestroyed(draft, c, gone);
        }
        break;
      }
      case 'external_created':
      case 'external_destroyed':
        putOrDrop(draft.externals, action.params.external);
        break;
      case 'volume_created':
      case 'volume_destroyed':
        putOrDrop(draft.volumes, action.params.volume);
        break;
      case 'container_status': {
        const p = action.params;
        const c = state.containers.get(p.container);
        if (!c || c.status === 'destroyed') break;
        const next = withStatus(c, p);
        if (p.status === 'destroyed') markDestroyed(draft, next);
        else setContainer(draft, next);
        break;
      }
      case 'process_exit':
        delete draft.processes[action.params.process];
        break;
    }
  });
}

/**
 * The most frequent event touches one container only: replace it in the map, and the map in a
 * shallow copy of the state, without an immer draft (whose finalising walks every slice).
 */
function containerStatus(state: LocationState, p: EventOf<'container_status'>['params']): LocationState {
  const c = state.containers.get(p.container);
  if (!c || c.status === 'destroyed') return state;
  return withSlice(state, 'containers', (state.containers as Containers).set(c.id, Object.freeze(withStatus(c, p))));
}

/** A container with what a status event says about it: the status, and each field it carries. */
function withStatus(c: ContainerInfo, p: EventOf<'container_status'>['params']): ContainerInfo {
  const next: ContainerInfo = { ...c, status: p.status };
  if (p.privateIp !== undefined) next.privateIp = p.privateIp;
  if (p.sleeping !== undefined) next.sleeping = p.sleeping;
  if (p.exitCode !== undefined) next.exitCode = p.exitCode;
  if (p.error !== undefined) next.error = p.error;
  return next;
}

/**
 * Stats arrive every few seconds per node: one node replaced in the nodes' id record (constant
 * time, not a copy of every node) and a shallow copy of the state, no immer draft.
 */
function nodeStats(state: LocationState, p: EventOf<'node_stats'>['params']): LocationState {
  const node = state.nodes[p.node];
  if (!node || !node.alive) return state;
  const nodes = recordWith(state.nodes, node.id, Object.freeze({ ...node, stats: Object.freeze({ ...p.stats }) }));
  return withSlice(state, 'nodes', nodes);
}

/**
 * A frozen copy of `state` with one slice replaced, written out field by field: spreading a
 * frozen object takes V8's slow path, several times slower, and the stats of one node are folded
 * by every session at once (issue #17). `satisfies` keeps the list complete as the state grows.
 * Before the resource offer (no session yet) a spread keeps the absent fields absent.
 */
function withSlice<K extends 'nodes' | 'containers'>(state: LocationState, key: K, value: LocationState[K]): LocationState {
  if (state.session === undefined || state.user === undefined || state.location === undefined) return Object.freeze({ ...state, [key]: value });
  // In the order the fields have arrived by then (initialState's, then the offer's).
  const next = {
    nodes: state.nodes, containers: state.containers, tunnels: state.tunnels, processes: state.processes,
    sshServers: state.sshServers, volumes: state.volumes, externals: state.externals, endpoints: state.endpoints,
    destroyedOrder: state.destroyedOrder, session: state.session, user: state.user, location: state.location,
  } satisfies Required<LocationState>;
  (next as { [k in K]: LocationState[K] })[key] = value;
  return Object.freeze(next);
}

/** A node as the state holds it, frozen through (immer freezes what it drafts; the nodes' record is not drafted). */
function frozenNode(n: NodeInfo): NodeInfo {
  return Object.freeze({ ...n, stats: Object.freeze({ ...n.stats }), ...(n.labels && { labels: Object.freeze({ ...n.labels }) }) });
}

function applyLocal(draft: Draft<LocationState>, action: Exclude<Action, { event: string }>): void {
  const containers = containersOf(draft);
  switch (action.type) {
    case 'container_spawning':
      setContainer(draft, action.container);
      break;
    case 'container_failed': {
      const c = containers.get(action.container);
      if (c && c.status !== 'destroyed') markDestroyed(draft, c, action.error);
      break;
    }
    case 'tunnel_added':
    case 'tunnel_removed':
      putOrDrop(draft.tunnels, action.tunnel);
      break;
    case 'process_spawning':
    case 'process_ended':
      putOrDrop(draft.processes, action.process);
      break;
    case 'ssh_server_added':
    case 'ssh_server_removed':
      putOrDrop(draft.sshServers, action.server);
      break;
    case 'session_lost':
      for (const c of containers.values()) if (c.status !== 'destroyed') markDestroyed(draft, c, action.error);
      break;
  }
}

/** The containers map is not drafted by immer (it is a class): it is replaced, never changed. */
const containersOf = (draft: Draft<LocationState>) => (draft as unknown as { containers: Containers }).containers;
const setContainers = (draft: Draft<LocationState>, map: Containers) => void ((draft as unknown as { containers: Containers }).containers = map);

function setContainer(draft: Draft<LocationState>, c: ContainerInfo): void {
  setContainers(draft, containersOf(draft).set(c.id, Object.freeze(c)));
}

/** Destroyed is final: record it, drop what lived in it, and forget the oldest beyond the cap. */
function markDestroyed(draft: Draft<LocationState>, c: ContainerInfo, error?: ErrorBody): void {
  setContainer(draft, { ...c, status: 'destroyed', error: c.error ?? error });
  for (const slice of [draft.tunnels, draft.processes, draft.sshServers]) dropOwnedBy(slice, c.id);
  draft.destroyedOrder.push(c.id);
  let containers = containersOf(draft);
  while (draft.destroyedOrder.length > MAX_DESTROYED_KEPT) containers = containers.delete(draft.destroyedOrder.shift()!);
  setContainers(draft, containers);
}

/** Forget every entry of a slice (tunnels, processes, ssh servers) that lived in the container. */
function dropOwnedBy(slice: Record<string, { id: string; container: string }>, container: string): void {
  for (const entry of Object.values(slice)) if (entry.container === container) delete slice[entry.id];
}

/** An action adds an entry (it carries the entry) or removes one (it carries only the id). */
function putOrDrop<T extends { id: string }>(slice: Record<string, T>, entry: T | string): void {
  if (typeof entry === 'string') delete slice[entry];
  else slice[entry.id] = entry;
}

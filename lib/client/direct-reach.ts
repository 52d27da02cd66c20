/**
 * Whether this process reaches a node's containers itself, so its tunnels may skip the location
 * (direct relay, kernel forwarding): decided from identities, never from an address alone
 * (another network namespace or machine can hold a container with the same 172.17.x address).
 */
import type { NodeInfo } from '../protocol';

export interface DirectReach {
  /** The user allows direct tunnels (`directTunnels`, $TFNZ_DIRECT_TUNNELS). */
  allowed: boolean;
  /** The location runs in this process. */
  embedded: boolean;
  /** This process's network stack (network-stack.ts); undefined where the system does not tell. */
  ownStack: string | undefined;
  /** The location's, from open_session; undefined from a location that does not say. */
  locationStack: string | undefined;
}

/** True when tunnels to containers on `node` may connect straight to the container from this process. */
export function reachesDirectly(reach: DirectReach, node: NodeInfo | undefined): boolean {
  if (!reach.allowed) return false;
  if (reach.embedded) return true;
  const sameStack = reach.ownStack !== undefined && reach.ownStack === reach.locationStack;
  return sameStack && node?.onLocationStack === true;
}

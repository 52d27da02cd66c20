/** The original's node choice: most free cpu + memory, less ten times the paging; live nodes only. */
import type { NodeInfo } from '../protocol';

/** A node's score for placement: idle cpu plus free memory, less ten times its paging. */
export function nodeScore(node: NodeInfo): number {
  return node.stats.cpu + node.stats.memory - 10 * node.stats.paging;
}

/** Live nodes, best first; ties keep a stable order by id. */
export function rankNodes(nodes: Iterable<NodeInfo>): NodeInfo[] {
  return [...nodes].filter((n) => n.alive).sort((a, b) => nodeScore(b) - nodeScore(a) || a.id.localeCompare(b.id));
}

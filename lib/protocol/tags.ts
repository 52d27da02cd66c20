/**
 * Tags: names users give volumes and containers so programs can ask for "the database volume"
 * rather than one instance of it. Both ends apply the same rules. The original meant to allow
 * only 0-9 a-z - _ . but its check let almost anything through; these rules are enforced.
 */
import { BadRequest, InvalidTag } from './errors';

export const MAX_TAG_LENGTH = 64;
/** Ids are nanoids: 21 characters of A-Z a-z 0-9 _ -. */
export const ID_LENGTH = 21;
const ID = /^[A-Za-z0-9_-]+$/;
const TAG_CHARS = /^[0-9a-z._-]+$/;

/** The tag as stored (lower case), or an InvalidTag naming the rule it broke. */
export function validTag(tag: unknown): string {
  if (typeof tag !== 'string') throw new InvalidTag('a tag must be a string');
  if (tag.trim() === '') throw new InvalidTag('a tag cannot be blank');
  const lower = tag.toLowerCase();
  if (lower.length > MAX_TAG_LENGTH) throw new InvalidTag(`tag '${tag}' is longer than ${MAX_TAG_LENGTH} characters`);
  if (!TAG_CHARS.test(lower)) {
    const bad = [...lower].find((ch) => !TAG_CHARS.test(ch));
    throw new InvalidTag(`tag '${tag}' has '${bad}': tags can only use 0-9 a-z - _ and .`);
  }
  if (lower.length === ID_LENGTH && ID.test(lower)) {
    throw new InvalidTag(`tag '${tag}' looks like an id (${ID_LENGTH} characters of a-z 0-9 _ -); make it shorter or longer`);
  }
  return lower;
}

/** `uuid`, `tag` or `uuid:tag` → its parts; which one a single word is, the caller decides. */
export function parseKey(key: unknown): { id?: string; tag?: string; word?: string } {
  if (typeof key !== 'string' || key === '') throw new BadRequest('a key must be a uuid, a tag or uuid:tag');
  const parts = key.split(':');
  if (parts.length > 2) throw new BadRequest(`key '${key}' has too many ':'; use uuid, tag or uuid:tag`);
  if (parts.length === 2) return { id: parts[0], tag: validTag(parts[1]) };
  return { word: key };
}

/** `uuid:tag`, or just the uuid when untagged. */
export function displayName(id: string, tag?: string): string {
  return tag ? `${id}:${tag}` : id;
}

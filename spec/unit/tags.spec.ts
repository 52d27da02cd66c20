import { expect } from 'chai';
import fc from 'fast-check';
import { BadRequest, InvalidTag, NotFound, TagInUse } from '../../lib/protocol/errors';
import { displayName, parseKey, validTag, ID_LENGTH, MAX_TAG_LENGTH } from '../../lib/protocol/tags';
import { TaggedCollection, type Taggable } from '../../lib/shared/tagged-collection';
import { nanoid } from 'nanoid';

const tagChars = fc.constantFrom(...'0123456789abcdefghijklmnopqrstuvwxyz-_.'.split(''));
const goodTag = fc
  .array(tagChars, { minLength: 1, maxLength: MAX_TAG_LENGTH })
  .map((cs) => cs.join(''))
  .filter((t) => t.length !== ID_LENGTH);

const obj = (user: string, tag?: string, id = nanoid()): Taggable => ({ id, user, tag });

describe('tags', () => {
  it('accepts every tag made of 0-9 a-z - _ . and stores it lower-cased', () => {
    fc.assert(fc.property(goodTag, (tag) => {
      expect(validTag(tag.toUpperCase())).to.equal(tag);
    }));
  });

  it('rejects any tag with another character, naming it', () => {
    const bad = fc.string({ minLength: 1 }).filter((s) => /[^0-9a-z._-]/.test(s.toLowerCase()) && s.trim() !== '' && s.length <= MAX_TAG_LENGTH);
    fc.assert(fc.property(bad, (tag) => {
      expect(() => validTag(tag)).to.throw(InvalidTag, /can only use 0-9 a-z - _ and \./);
    }));
  });

  it('rejects mixes of good and bad characters (the original let these through)', () => {
    expect(() => validTag('my volume')).to.throw(InvalidTag, "has ' '");
    expect(() => validTag('db:primary')).to.throw(InvalidTag, "has ':'");
  });

  it('rejects blank, over-long and id-like tags with the rule in the message', () => {
    expect(() => validTag('')).to.throw(InvalidTag, /blank/);
    expect(() => validTag('   ')).to.throw(InvalidTag, /blank/);
    expect(() => validTag('a'.repeat(MAX_TAG_LENGTH + 1))).to.throw(InvalidTag, /longer than/);
    expect(() => validTag(nanoid())).to.throw(InvalidTag, /looks like an id/);
    expect(() => validTag(42)).to.throw(InvalidTag, /string/);
  });

  it('parses uuid, tag and uuid:tag keys', () => {
    expect(parseKey('abc')).to.deep.equal({ word: 'abc' });
    expect(parseKey('ID123:Db')).to.deep.equal({ id: 'ID123', tag: 'db' });
    expect(() => parseKey('a:b:c')).to.throw(BadRequest, /too many/);
    expect(displayName('ID', 'db')).to.equal('ID:db');
    expect(displayName('ID')).to.equal('ID');
  });
});

describe('TaggedCollection', () => {
  it('finds an object by uuid, by tag and by uuid:tag, and nothing for another user', () => {
    fc.assert(
      fc.property(goodTag, fc.string({ minLength: 1, maxLength: 8 }), (tag, user) => {
        const col = new TaggedCollection<Taggable>();
        const o = obj(user, tag);
        col.add(o);
        expect(col.get(user, o.id)).to.equal(o);
        expect(col.get(user, tag)).to.equal(o);
        expect(col.get(user, displayName(o.id, tag))).to.equal(o);
        expect(col.find(`${user}-other`, tag)).to.equal(undefined);
        expect(col.find(`${user}-other`, o.id)).to.equal(undefined);
      }),
    );
  });

  it('keeps tags unique per user, while two users may share one', () => {
    const col = new TaggedCollection<Taggable>();
    const alice = obj('alice', 'db');
    col.add(alice);
    col.add(obj('bob', 'db'));
    expect(() => col.add(obj('alice', 'DB'))).to.throw(TagInUse, /'DB' is already used/);
    expect(col.willClash('alice', nanoid(), 'db')).to.equal(true);
    expect(col.willClash('alice', alice.id, 'db'), 'an object never clashes with itself').to.equal(false);
    expect(col.size).to.equal(2);
  });

  it('does not resolve uuid:tag when the tag is not the object\'s', () => {
    const col = new TaggedCollection<Taggable>([obj('u', 'db', 'ID_one')]);
    expect(col.find('u', 'ID_one:web')).to.equal(undefined);
    expect(() => col.get('u', 'ID_one:web')).to.throw(NotFound, /uuid, a tag or uuid:tag/);
  });

  it('forgets removed objects, their tags free for reuse', () => {
    const col = new TaggedCollection<Taggable>();
    const o = obj('u', 'cache');
    col.add(o);
    col.remove(o);
    expect(col.has('u', 'cache')).to.equal(false);
    col.add(obj('u', 'cache'));
    expect(col.size).to.equal(1);
  });

  it('iterates over each object once, however many keys reach it', () => {
    const items = [obj('u', 'a'), obj('u'), obj('v', 'a')];
    const col = new TaggedCollection<Taggable>(items);
    expect([...col]).to.have.members(items).and.have.length(3);
    expect(col.values()).to.have.length(3);
  });
});

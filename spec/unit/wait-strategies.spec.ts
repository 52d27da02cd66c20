import { expect } from 'chai';
import { NEVER, Subject, firstValueFrom, of, type Observable } from 'rxjs';
import { BadRequest, StartupTimeout, Wait, type LogEntry, type WaitTarget } from '../../lib/index';
import { untilHolds } from '../../lib/client/wait';
import { parseMemory } from '../../lib/cli/run-command';
import { parseSince } from '../../lib/cli/logs-command';

/** A target whose output is `logs` and which answers no requests (pure-logic checks only). */
function target(logs: Observable<LogEntry>): WaitTarget {
  return {
    id: 'ctr-1',
    logs$: () => logs,
    runProcess: () => Promise.reject(new Error('not here')),
    request: () => new Promise(() => undefined),
  };
}
const line = (text: string): LogEntry => ({ time: new Date(), stream: 'stdout', text });
const error = (o: Observable<unknown>) => firstValueFrom(o).then(() => null, (e: Error) => e);

describe('wait strategies (logic)', () => {
  it('forLogMessage counts matching lines, a RegExp with the g flag included', async () => {
    const logs = of(line('ready'), line('nope'), line('ready again'));
    await firstValueFrom(untilHolds(target(logs), Wait.forLogMessage(/ready/g, 2), 1000, NEVER, async () => []));
    const err = await error(untilHolds(target(logs), Wait.forLogMessage('ready', 3), 1000, NEVER, async () => ['ready again']));
    expect(err).to.be.instanceOf(StartupTimeout).with.property('message').that.contains('ended after 2 of 3').and.contains('ready again');
  });

  it('times out with StartupTimeout carrying the last lines', async () => {
    const err = await error(untilHolds(target(new Subject<LogEntry>()), Wait.forLogMessage('x'), 50, NEVER, async (n) => [`asked for ${n}`]));
    expect(err).to.be.instanceOf(StartupTimeout).with.property('message').that.contains('within 0.05s').and.contains('asked for 20');
    expect((err as StartupTimeout).lastLines).to.deep.equal(['asked for 20']);
  });

  it('fails at once when the container ends, unless the strategy can still hold after exit', async () => {
    const ended = of('its main process exited with 1');
    const err = await error(untilHolds(target(NEVER), Wait.forListeningPorts(80), 5000, ended, async () => []));
    expect(err).to.be.instanceOf(StartupTimeout).with.property('message').that.contains('exited with 1').and.contains('wrote no output');
    await firstValueFrom(untilHolds(target(of(line('done'))), Wait.forLogMessage('done'), 5000, ended, async () => []));
  });

  it('forAll names every strategy; bad arguments are BadRequest', () => {
    expect(Wait.forAll([Wait.forLogMessage('a'), Wait.forListeningPorts(1, 2)]).description).to.equal("log message 'a' and listening ports 1, 2");
    expect(() => Wait.forAll([])).to.throw(BadRequest);
    expect(() => Wait.forListeningPorts(70000)).to.throw(BadRequest);
    expect(() => Wait.forHttp('/', 80, { status: 42 })).to.throw(BadRequest);
    expect(() => untilHolds(target(NEVER), Wait.forLogMessage('a'), 0, NEVER, async () => [])).to.throw(BadRequest);
  });
});

describe('CLI sizes and times', () => {
  it('reads memory as Docker does, in whole MiB', () => {
    expect([parseMemory('512m'), parseMemory('1g'), parseMemory('1.5g'), parseMemory('65536k'), parseMemory(String(2 ** 20))]).to.deep.equal([512, 1024, 1536, 64, 1]);
    expect(() => parseMemory('lots')).to.throw(/--memory/);
  });

  it('reads --since as a duration ago or a date', () => {
    expect(Date.now() - parseSince('10m').getTime()).to.be.within(599_000, 601_000);
    expect(parseSince('2026-01-02T03:04:05Z').toISOString()).to.equal('2026-01-02T03:04:05.000Z');
    expect(() => parseSince('yesterday')).to.throw(/--since/);
  });
});

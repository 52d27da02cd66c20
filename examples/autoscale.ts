// Autoscaling rules as RxJS pipelines: keep REPLICAS small web containers (busybox httpd) spread
// over the least loaded nodes; add one when a node arrives, when one is lost, or while load is high;
// remove one (never below REPLICAS) while load is low. Every decision is printed with its reason.
//
//   npx tsx examples/autoscale.ts                       embedded location on the local engine
//   TFNZ_LOCATION=127.0.0.1:2020 npx tsx examples/autoscale.ts
//
// Knobs (environment): REPLICAS (2), MAX_EXTRA (3), DURATION_S (60; Ctrl-C ends it sooner),
// HIGH_LOAD (0.35) and LOW_LOAD (0.1): used share of the busiest live node's CPU, COOLDOWN_S (5)
// between steps, DEMO_LOAD (1: burn two cores on one node from 1/5 to 1/2 of the run, to show the
// rules at work; 0 to leave load to others).
import {
  EMPTY, Subject, auditTime, concatMap, first, distinctUntilChanged, filter, map, merge, switchMap, takeUntil, timer, type Observable,
} from 'rxjs';
import { Location, type Container, type Node } from 'tfnz';

const env = (name: string, fallback: number) => (process.env[name] ? Number(process.env[name]) : fallback);
const REPLICAS = env('REPLICAS', 2);
const MAX_EXTRA = env('MAX_EXTRA', 3);
const DURATION_S = env('DURATION_S', 60);
const HIGH_LOAD = env('HIGH_LOAD', 0.35);
const LOW_LOAD = env('LOW_LOAD', 0.1);
const COOLDOWN_MS = env('COOLDOWN_S', 5) * 1000;
const DEMO_LOAD = env('DEMO_LOAD', 1) === 1;

type Decision = { action: 'add'; why: string; on?: Node } | { action: 'remove'; why: string };

const started = Date.now();
const say = (line: string) => console.log(`[${((Date.now() - started) / 1000).toFixed(1).padStart(5)}s] ${line}`);

const loc = await Location.connect({ quiet: true });
const replicas = new Set<Container>();
const removing = new Set<Container>();
const lost$ = new Subject<Decision>();
const done$ = new Subject<void>();
let stopping = false;
/** Stop deciding before the session ends, so its end is not mistaken for lost replicas. */
function stop(why: string): void {
  if (stopping) return;
  stopping = true;
  say(`${why}: stopping with ${replicas.size} replica(s); the location collects them when the session ends`);
  done$.next();
  loc.complete();
}
process.once('SIGINT', () => stop('Ctrl-C'));
process.once('SIGTERM', () => stop('SIGTERM'));

// --- Signals -----------------------------------------------------------------------------------

/** Each node's CPU capacity is the most spare CPU it ever reported (an idle node reports all of it). */
const capacity = new Map<string, number>();
/** Used share of the busiest live node's CPU, 0 (idle) … 1 (every core busy). */
const load$: Observable<number> = loc.nodes$.pipe(
  map((nodes) => {
    const live = Object.values(nodes).filter((n) => n.alive);
    for (const n of live) capacity.set(n.id, Math.max(capacity.get(n.id) ?? 0, n.stats.cpu));
    return Math.max(0, ...live.map((n) => 1 - n.stats.cpu / (capacity.get(n.id) || 1)));
  }),
);

// --- Rules: each is a pipeline of decisions ----------------------------------------------------

/** Start with REPLICAS. */
const initial$ = timer(0).pipe(concatMap(() => Array.from({ length: REPLICAS }, (_, i): Decision => ({ action: 'add', why: `initial replica ${i + 1}/${REPLICAS}` }))));

/** A node arrived: put a replica on it at once. */
const arrivals$ = loc.nodeArrivals$.pipe(map((node): Decision => ({ action: 'add', on: node, why: `node ${node.name} arrived` })));

/** While load is high, add one replica per cooldown; while it is low, remove one. */
const level$ = load$.pipe(
  auditTime(500),
  map((load) => ({ load, level: load > HIGH_LOAD ? 'high' : load < LOW_LOAD ? 'low' : 'normal' })),
  distinctUntilChanged((a, b) => a.level === b.level),
);
let lastLoad = 0;
const scaling$ = level$.pipe(
  switchMap(({ level, load }) => {
    say(`load is ${level}: ${pct(load)} of the busiest node's CPU in use`);
    if (level === 'normal') return EMPTY;
    return timer(level === 'high' ? 0 : COOLDOWN_MS, COOLDOWN_MS).pipe(
      // Act on the load as it is now, not as it was when the level changed.
      filter(() => (level === 'high' ? lastLoad > HIGH_LOAD : lastLoad < LOW_LOAD)),
      map((): Decision =>
        level === 'high'
          ? { action: 'add', why: `load ${pct(lastLoad)} is above ${pct(HIGH_LOAD)}` }
          : { action: 'remove', why: `load ${pct(lastLoad)} is below ${pct(LOW_LOAD)}` },
      ),
    );
  }),
);
load$.subscribe((l) => (lastLoad = l));

// --- Acting on decisions, one at a time ----------------------------------------------------------

merge(initial$, arrivals$, scaling$, lost$)
  .pipe(
    takeUntil(done$),
    filter((d) => {
      const live = replicas.size;
      if (d.action === 'add' && live >= REPLICAS + MAX_EXTRA) return skip(d, `already at the maximum of ${REPLICAS + MAX_EXTRA}`);
      if (d.action === 'remove' && live <= REPLICAS) return skip(d, `already at the minimum of ${REPLICAS}`);
      return true;
    }),
    concatMap((d) => (d.action === 'add' ? addReplica(d) : removeReplica(d))),
  )
  .subscribe({ error: (err: Error) => say(`autoscaler stopped: ${err.message}`) });

let lastSkip = '';
function skip(d: Decision, because: string): false {
  const line = `not ${d.action === 'add' ? 'adding' : 'removing'} (${d.why}): ${because}`;
  if (line !== lastSkip) say(line); // say it once, not every cooldown
  lastSkip = line;
  return false;
}

/** Among the nodes not much busier than the best one, the one with the fewest of our replicas. */
function placement(): Node {
  const ranked = loc.rankedNodes();
  if (ranked.length === 0) throw new Error('no live nodes');
  const cool = ranked.filter((n) => n.stats.cpu >= ranked[0].stats.cpu * 0.75);
  const count = (n: Node) => [...replicas].filter((c) => c.node === n).length;
  return cool.reduce((best, n) => (count(n) < count(best) ? n : best), cool[0]);
}

async function addReplica(d: Extract<Decision, { action: 'add' }>): Promise<void> {
  let node: Node;
  try {
    node = d.on ?? placement();
  } catch (err) {
    return void say(`cannot add a replica (${d.why}): ${(err as Error).message}`);
  }
  const ctr = node.spawnContainer('busybox', { command: ['httpd', '-f', '-p', '80', '-h', '/var/www'] });
  replicas.add(ctr);
  say(`add a replica on ${node.name} (cpu spare ${node.stats.cpu}, memory ${node.stats.memory} MiB): ${d.why} → ${replicas.size} replicas`);
  // A replica that ends without being removed is replaced.
  ctr.termination$.subscribe({
    next: (code) => lost(ctr, `exited with ${code}`),
    error: (err: Error) => lost(ctr, err.message),
  });
  ctr.status$.pipe(first((s) => s === 'running')).subscribe({ next: () => ran.add(ctr), error: () => undefined });
  await ctr.ready().catch(() => undefined);
}

/** Replicas that got as far as running: one that never did is replaced only after a cooldown. */
const ran = new WeakSet<Container>();
function lost(ctr: Container, why: string): void {
  replicas.delete(ctr);
  if (removing.delete(ctr) || stopping) return;
  const decision: Decision = { action: 'add', why: `replica ${ctr.id.slice(0, 8)} on ${ctr.node.name} was lost (${why})` };
  if (ran.has(ctr)) lost$.next(decision);
  else {
    say(`replica ${ctr.id.slice(0, 8)} did not start (${why}); trying again in ${COOLDOWN_MS / 1000} s`);
    timer(COOLDOWN_MS).pipe(takeUntil(done$)).subscribe(() => lost$.next(decision));
  }
}

async function removeReplica(d: Decision): Promise<void> {
  // Take it from the busiest node that has one.
  const ranked = loc.rankedNodes();
  const victim = [...replicas].sort((a, b) => ranked.indexOf(b.node) - ranked.indexOf(a.node))[0];
  if (!victim) return;
  removing.add(victim);
  replicas.delete(victim);
  say(`remove the replica on ${victim.node.name}: ${d.why} → ${replicas.size} replicas`);
  await victim.node.destroyContainer(victim).catch((err: Error) => say(`removing it failed: ${err.message}`));
}

// --- Demo load, so both rules show up in a short run ---------------------------------------------

if (DEMO_LOAD) {
  timer((DURATION_S * 1000) / 5)
    .pipe(takeUntil(done$))
    .subscribe(() => {
      const node = loc.node();
      say(`demo: burning two cores on ${node.name} until ${Math.round(DURATION_S / 2)} s`);
      const burner = node.spawnContainer('busybox', { command: ['sh', '-c', 'while :; do :; done & while :; do :; done'] });
      timer((DURATION_S * 1000) / 2 - (DURATION_S * 1000) / 5).pipe(takeUntil(done$)).subscribe(() => {
        say('demo: load stops');
        void node.destroyContainer(burner).catch(() => undefined);
      });
    });
}

timer(DURATION_S * 1000).pipe(takeUntil(done$)).subscribe(() => stop(`ran ${DURATION_S} s`));
await loc.run();
stop('the session ended'); // no-op after Ctrl-C or the time limit; ends every pipeline and timer
say('done');

function pct(x: number): string {
  return `${Math.round(x * 100)}%`;
}

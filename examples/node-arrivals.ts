// Reacting to nodes as they come and go: every node that arrives while this runs gets a greeter
// container, whose output is shown; departures are noticed from `nodes$`; stats are shown as they
// change. Ends after DURATION_S (default 60) or on Ctrl-C.
//
//   TFNZ_LOCATION=127.0.0.1:2020 npx tsx examples/node-arrivals.ts
//     then add an engine to that location, e.g. start one and list it in its --engines-file:
//       scripts/start-node-engine.sh 7 && echo unix:///run/tfnz/node7.sock >> engines.txt
//   TFNZ_ADD_ENGINE=unix:///run/tfnz/node7.sock npx tsx examples/node-arrivals.ts
//     self-contained: runs its own location on the local engine and adds that engine after 3 s.
import { filter, map, pairwise, startWith, Subject, takeUntil, throttleTime, timer } from 'rxjs';
import { Location, lines, type Node } from 'tfnz';
import { LocationServer } from 'tfnz/server';

const DURATION_S = Number(process.env.DURATION_S ?? 60);
const addEngine = process.env.TFNZ_ADD_ENGINE;
const started = Date.now();
const say = (line: string) => console.log(`[${((Date.now() - started) / 1000).toFixed(1).padStart(5)}s] ${line}`);

// With TFNZ_ADD_ENGINE, this program runs the location itself, so it can add an engine to it.
const own = addEngine ? await LocationServer.start({ name: 'node-arrivals', port: 0 }) : undefined;
const loc = await Location.connect({
  location: own?.url,
  quiet: true,
  // The original's callback style works too: an adapter over nodeArrivals$.
  newNodeCallback: (node) => say(`newNodeCallback: ${node.name}`),
});
const done$ = new Subject<void>();

say(`connected; nodes: ${loc.rankedNodes().map((n) => `${n.name} (cpu ${n.stats.cpu}, memory ${n.stats.memory} MiB)`).join(', ') || 'none'}`);

// Arrivals: greet each new node with a container that says where it runs.
loc.nodeArrivals$.pipe(takeUntil(done$)).subscribe((node: Node) => {
  say(`node arrived: ${node.name} (${node.id}); ranked now: ${loc.rankedNodes().map((n) => n.name).join(' > ')}`);
  const ctr = node.spawnContainer('busybox', { command: ['sh', '-c', 'echo "hello from $(hostname) at $(hostname -i)"; sleep 3600'] });
  ctr.stdout$.pipe(lines()).subscribe((line) => say(`  ${node.name} says: ${line}`));
  ctr.termination$.subscribe({ error: (err: Error) => say(`  greeter on ${node.name} ended: ${err.message}`) });
});

// Departures: there is no event for them (as in the original); a node turns not alive in nodes$.
loc.nodes$
  .pipe(
    map((nodes) => new Set(Object.values(nodes).filter((n) => n.alive).map((n) => n.id))),
    startWith(new Set<string>()),
    pairwise(),
    takeUntil(done$),
  )
  .subscribe(([before, now]) => {
    for (const id of before) if (!now.has(id)) say(`node left: ${loc.state.nodes[id]?.name ?? id} (kept in state with no capacity)`);
  });

// Stats, at most every 5 s per node.
for (const node of loc.rankedNodes()) watchStats(node);
loc.nodeArrivals$.pipe(takeUntil(done$)).subscribe(watchStats);
function watchStats(node: Node): void {
  node.stats$
    .pipe(
      filter(() => node.alive),
      throttleTime(5000),
      takeUntil(done$),
    )
    .subscribe((s) => say(`stats ${node.name}: cpu ${s.cpu} memory ${s.memory} MiB paging ${s.paging} containers ${s.containers}`));
}

if (own && addEngine) {
  timer(3000).pipe(takeUntil(done$)).subscribe(() => {
    say(`adding engine ${addEngine} to the location`);
    own.addEngine(addEngine).catch((err: Error) => say(`could not add ${addEngine}: ${err.message}`));
  });
}

timer(DURATION_S * 1000)
  .pipe(takeUntil(done$))
  .subscribe(() => {
    say(`ran ${DURATION_S} s: stopping`);
    loc.complete();
  });
await loc.run(); // Ctrl-C ends it too
done$.next(); // and with it every pipeline and timer above, so the program exits now
await own?.close();
say('done');

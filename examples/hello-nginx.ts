// The guide's hello world: nginx in a container, reachable at http://127.0.0.1:8080/ until Ctrl-C.
import { Location } from 'tfnz';

const loc = await Location.connect();
const node = loc.node();
const ctr = node.spawnContainer('nginx');
await ctr.attachTunnel(80, { localPort: 8080 });
await loc.run(); // until complete()/disconnect() or Ctrl-C; then everything is collected

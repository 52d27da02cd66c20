/**
 * `await using` on the handles that own resources: a block's end releases each of them, as a user
 * sees it (the port refuses connections, the process is gone in the container, the session ends).
 */
import { expect } from 'chai';
import { connect } from 'node:net';
import { Location, type Container } from '../../lib/index';
import { httpGet } from '../support/net';
import { containersLabelled } from '../support/docker';

/** Whether something on this machine accepts a TCP connection on the port. */
function accepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    socket.once('connect', () => (socket.destroy(), resolve(true)));
    socket.once('error', () => resolve(false));
  });
}

describe('await using (real location, real Docker Engine)', function () {
  this.timeout(120_000);
  let loc: Location;
  let box: Container;

  before(async () => {
    loc = await Location.connect({ quiet: true });
    box = loc.node().spawnContainer('busybox', { command: ['sleep', '600'] });
    await box.ready();
  });
  after(async () => {
    await loc?.disconnect();
  });

  it('destroys a tunnel, a process and an SSH server when their block ends', async () => {
    let tunnelPort: number;
    let sshPort: number;
    {
      const web = loc.node().spawnContainer('nginx');
      await web.ready();
      await using tunnel = await web.attachTunnel(80);
      await using sleeper = box.spawnProcess(['sleep', '300']);
      await using ssh = await box.createSshServer();
      tunnelPort = tunnel.localPort;
      sshPort = ssh.port;
      expect((await httpGet(tunnel.localPort)).status).to.equal(200);
      expect(await accepts(ssh.port)).to.equal(true);
      expect(sleeper.isRunning).to.equal(true);
    }
    expect(await accepts(tunnelPort)).to.equal(false);
    expect(await accepts(sshPort)).to.equal(false);
    expect(box.allTunnels()).to.deep.equal([]);
    expect(box.allSshServers()).to.deep.equal([]);
    const ps = await box.runProcess(['ps', '-o', 'args']);
    expect(ps.stdout.toString()).not.to.contain('sleep 300');
  });

  it('ends the session, and with it its containers, when a Location block ends', async () => {
    let container: Container;
    {
      await using inner = await Location.connect({ quiet: true });
      container = inner.node().spawnContainer('busybox', { command: ['sleep', '600'] });
      await container.ready();
      expect(container.status).to.equal('running');
    }
    // The location removed it from the engine before it answered the session's close.
    expect(await containersLabelled('tfnz.container', container.id)).to.deep.equal([]);
  });
});

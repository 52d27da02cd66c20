import { expect } from 'chai';
import { BadRequest } from '../../lib/protocol';
import { parseListen } from '../../lib/cli/dashboard-command';

describe('tfnz dashboard --listen', () => {
  it('takes host:port, [v6]:port or a bare port on 127.0.0.1', () => {
    expect(parseListen('8080')).to.deep.equal({ host: '127.0.0.1', port: 8080 });
    expect(parseListen('127.0.0.2:0')).to.deep.equal({ host: '127.0.0.2', port: 0 });
    expect(parseListen('localhost:9000')).to.deep.equal({ host: 'localhost', port: 9000 });
    expect(parseListen('[::1]:9000')).to.deep.equal({ host: '[::1]', port: 9000 });
  });

  it('refuses anything but loopback, and what is not an address, with a BadRequest that shows the form', () => {
    for (const bad of ['0.0.0.0:8080', '[::]:8080', '192.0.2.1:80', 'example.com:80']) {
      expect(() => parseListen(bad), bad).to.throw(BadRequest, 'loopback only');
    }
    for (const bad of ['', 'host:', ':80', '127.0.0.1:99999', '127.0.0.1:http']) {
      expect(() => parseListen(bad), bad).to.throw(BadRequest, 'host:port or a port');
    }
  });
});

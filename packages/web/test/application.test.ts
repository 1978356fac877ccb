import { HTTPServer } from '@tornado-ts/httpserver';
import { request } from 'undici';
import { describe, expect, it } from 'vitest';
import { Application, RequestHandler } from '../src/index';

class Who extends RequestHandler {
  override get() {
    this.finish({ ip: this.request.remoteIp, protocol: this.request.protocol, url: this.request.fullUrl() });
  }
}

describe('Application as an HTTPServerConnectionDelegate', () => {
  it('is served by an HTTPServer directly, with xheaders', async () => {
    const app = new Application([['/who', Who]]);
    const server = new HTTPServer(app, { xheaders: true });
    await server.listen(0, '127.0.0.1');
    try {
      const port = server.addresses()[0]!.port;
      const plain = await request(`http://127.0.0.1:${port}/who`);
      expect(await plain.body.json()).toEqual({
        ip: '127.0.0.1',
        protocol: 'http',
        url: `http://127.0.0.1:${port}/who`,
      });
      const proxied = await request(`http://127.0.0.1:${port}/who`, {
        headers: { 'X-Real-Ip': '203.0.113.9', 'X-Scheme': 'https' },
      });
      expect(await proxied.body.json()).toMatchObject({ ip: '203.0.113.9', protocol: 'https' });
    } finally {
      await server.stop();
      await server.closeAllConnections();
    }
  });

  it('listen() resolves with the listening HTTPServer', async () => {
    const server = await new Application([['/who', Who]]).listen(0, '127.0.0.1');
    try {
      expect(server).toBeInstanceOf(HTTPServer);
      const res = await request(`http://127.0.0.1:${server.addresses()[0]!.port}/who`);
      expect(res.statusCode).toBe(200);
      await res.body.dump();
    } finally {
      await server.stop();
      await server.closeAllConnections();
    }
  });
});

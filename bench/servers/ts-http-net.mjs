// tornado-ts HTTPServer exactly as ts-http.mjs, but on net.Socket (nativeSockets: false): the
// difference between the two is what TCPServer's native sockets bring.
process.env.TORNADO_TS_BENCH_NET = '1';
await import('./ts-http.mjs');

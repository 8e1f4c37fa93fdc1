// Node preload (`node -r scripts/bind-loopback.js ...`) that forces every TCP server onto 127.0.0.1.
//
// Why: kinesis-local (kinesis-mock's Scala.js build) hard-codes 0.0.0.0 and has no host option, and
// our test servers must listen on loopback only. We rewrite the host argument of net.Server#listen:
//   listen(port[, host][, backlog][, cb])  -> host forced to 127.0.0.1
//   listen({ port, host, ... }[, cb])      -> options.host forced to 127.0.0.1
// Unix-socket and handle forms (a string path, an object with `path`/`fd`/`handle`) are left alone.
'use strict';

const net = require('net');

const LOOPBACK = '127.0.0.1';
const originalListen = net.Server.prototype.listen;

function isPort(value) {
  return typeof value === 'number' || (typeof value === 'string' && /^\d+$/.test(value));
}

net.Server.prototype.listen = function listenOnLoopback(...args) {
  const first = args[0];
  if (first !== null && typeof first === 'object') {
    const isSocketOrHandle = 'path' in first || 'fd' in first || 'handle' in first || '_handle' in first;
    if (!isSocketOrHandle) {
      args[0] = Object.assign({}, first, { host: LOOPBACK });
    }
  } else if (isPort(first)) {
    if (typeof args[1] === 'string') {
      args[1] = LOOPBACK;
    } else {
      args.splice(1, 0, LOOPBACK);
    }
  }
  return originalListen.apply(this, args);
};

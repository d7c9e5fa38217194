// The reference Socket.IO 4 server the benchmark compares against (bench/run.py).
//
// A client emits `join` room and `publish` {room, body, client_id}; the server builds a
// message shaped like the project's `message.created` payload (so frames are about the
// same size), numbers it per room, and does io.to(room).emit('message', ...). No
// persistence, no authentication. With REDIS_URL, rooms span processes through the
// official Redis adapter. Usage: PORT=3000 [REDIS_URL=redis://...] node socketio_server.js
'use strict';

const http = require('node:http');
const { Server } = require('socket.io');

const port = Number(process.env.PORT || 3000);
const httpServer = http.createServer();
const io = new Server(httpServer, { transports: ['websocket'], serveClient: false });

if (process.env.REDIS_URL) {
  const { Redis } = require('ioredis');
  const { createAdapter } = require('@socket.io/redis-adapter');
  const pub = new Redis(process.env.REDIS_URL);
  io.adapter(createAdapter(pub, pub.duplicate()));
}

const seqs = new Map();
let ids = 0;
const author = { id: 1, username: 'publisher', display_name: 'Publisher' };

io.on('connection', (socket) => {
  socket.on('join', (room, ack) => {
    socket.join(room);
    if (typeof ack === 'function') ack({ ok: true, seq: seqs.get(room) || 0 });
  });
  socket.on('publish', ({ room, body, client_id }, ack) => {
    const seq = (seqs.get(room) || 0) + 1;
    seqs.set(room, seq);
    const message = {
      id: ++ids, seq, channel: room, author, body, client_id,
      created_at: new Date().toISOString(), edited_at: null, deleted: false,
    };
    io.to(room).emit('message', { message });
    if (typeof ack === 'function') ack({ message });
  });
});

httpServer.listen(port, '127.0.0.1', () => console.log(`socket.io listening on 127.0.0.1:${port}`));
process.on('SIGTERM', () => process.exit(0));

/**
 * Plays a stranger on the LAN: multicasts one forged mDNS goodbye (a PTR
 * record with TTL 0) for `<name>._picompute._tcp.local`, as anyone who saw
 * an agent's advertisement can. Run only on a network-namespace test host.
 * Usage: node mdns-goodbye.mjs NAME
 */
import { createSocket } from 'node:dgram';

const labels = (name) => Buffer.concat([...name.split('.').map((l) => Buffer.concat([Buffer.from([Buffer.byteLength(l)]), Buffer.from(l)])), Buffer.from([0])]);
const type = '_picompute._tcp.local';
const target = labels(`${process.argv[2]}.${type}`);
const header = Buffer.from([0, 0, 0x84, 0, 0, 0, 0, 1, 0, 0, 0, 0]); // a response, authoritative, one answer
const fixed = Buffer.alloc(10);
fixed.writeUInt16BE(12, 0); // PTR
fixed.writeUInt16BE(1, 2); // IN
fixed.writeUInt32BE(0, 4); // TTL 0: "gone"
fixed.writeUInt16BE(target.length, 8);
const packet = Buffer.concat([header, labels(type), fixed, target]);

const socket = createSocket({ type: 'udp4', reuseAddr: true });
socket.bind(0, () => {
  socket.setMulticastTTL(255);
  socket.send(packet, 5353, '224.0.0.251', (err) => {
    socket.close();
    if (err) throw err;
    console.log(`sent a forged goodbye for ${process.argv[2]}`);
  });
});

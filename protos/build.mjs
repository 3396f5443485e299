// Compiles picompute.proto to a JSON descriptor at build time, so processes
// load the wire contract without parsing .proto text at start-up.
import { writeFileSync } from 'node:fs';
import protobuf from 'protobufjs';

const root = protobuf.loadSync(new URL('./picompute.proto', import.meta.url).pathname);
writeFileSync(new URL('./picompute.json', import.meta.url), JSON.stringify(root.toJSON()));

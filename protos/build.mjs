// Compiles picompute.proto to a JSON descriptor (in picompute.js) at build time, so processes
// load the wire contract without parsing .proto text at start-up.
import { writeFileSync } from 'node:fs';
import protobuf from 'protobufjs';

const root = protobuf.loadSync(new URL('./picompute.proto', import.meta.url).pathname);
const json = JSON.stringify(root.toJSON());
// As an ES module, so code (and the CLI's single-file build) imports it without JSON module support.
writeFileSync(new URL('./picompute.js', import.meta.url), `export default JSON.parse(${JSON.stringify(json)});\n`);

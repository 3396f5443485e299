/**
 * Lists the coordinators announced over mDNS, with their roles, as the SDK
 * reads them: `{"10.213.7.12:7700":"leader",...}`. Run on a network-namespace
 * test host. Usage: node mdns-coordinators.mjs [MS]
 */
import { announcedRole, COORDINATOR_SERVICE, dialAddress, lookFor } from '../../packages/sdk/dist/mdns/index.js';

const seen = await lookFor(COORDINATOR_SERVICE, Number(process.argv[2] ?? 2000), (sightings, over) => (over ? sightings : undefined));
const roles = {};
for (const s of seen ?? []) roles[dialAddress(s) ?? s.name] = announcedRole(s);
console.log(JSON.stringify(roles));

/** picompute.proto as a protobufjs JSON descriptor (made by build.mjs). */
declare const descriptor: Record<string, unknown>;
export default descriptor;

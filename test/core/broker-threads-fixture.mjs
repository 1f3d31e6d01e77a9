// Runs on a thread node (spawned by broker-threads.test.ts): reports the
// keys of the topics whose state that thread's table holds. It imports the
// broker's thread host by the URL the broker gives thread nodes, so it sees
// the same module instance (the same table).
const host = await import(
  new globalThis.URL('../../packages/broker/dist/thread-host.js', import.meta.url).href
);

/** A process handler: answers `{ replyTo }` with `{ node, keys }`. */
export function reportHosted(message, ctx) {
  ctx.send(message.replyTo, { node: ctx.self.node, keys: host.hostedKeys() });
}

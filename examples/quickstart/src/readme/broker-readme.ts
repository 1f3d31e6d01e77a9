import { Broker } from '@ratatoskr/broker';

interface Order {
  id: number;
  amount: number;
  currency: string;
}

const broker = await Broker.start();
await broker.createTopic('orders');

// A callback subscriber: runs in its own process, one message at a time.
let total = 0;
let lastHandled!: () => void;
const handled = new Promise<void>((resolve) => (lastHandled = resolve));
await broker.subscribe<Order>('orders', (message) => {
  total += message.payload.amount;
  if (message.payload.id === 124) lastHandled();
});

// An async-iterator subscriber: subscribed now, read after publishing.
const stream = broker.subscribe<Order>('orders');

const id = await broker.publish('orders', { id: 123, amount: 99.9, currency: 'USD' });
await broker.publish('orders', { id: 124, amount: 15, currency: 'EUR' });
console.log(`published ${id} and one more`);

for await (const message of stream) {
  console.log(message.offset, message.payload);
  if (message.payload.id === 124) break; // leaves the subscription
}

await handled; // the callback runs in its own process: wait for it before stopping
const { messageCount, subscriberCount } = await broker.stats('orders');
console.log({ total, messageCount, subscriberCount });
await broker.stop(); // ends every subscription; messages still queued are dropped

/**
 * Ratatoskr's quick start, step by step as in the seed's README: start the
 * broker, create the "orders" topic, subscribe, publish an order, receive
 * it; then the Monitoring section: topic statistics and the topic list.
 * Prints what it receives.
 */
import { inspect } from 'node:util';
import { Broker } from '@ratatoskr/broker';

const show = (value: unknown): string => inspect(value, { depth: 4, breakLength: 100 });

// Start the broker.
const broker = await Broker.start();

// Create a topic.
const topic = await broker.createTopic('orders');
console.log(`created topic: ${topic}`);

// Subscribe to messages: an async iterator, read below like a mailbox.
const messages = broker.subscribe<{ id: number; amount: number; currency: string }>('orders');
console.log(`subscribed: ${String(await messages.ref())}`);

// Publish a message.
const messageId = await broker.publish('orders', { id: 123, amount: 99.9, currency: 'USD' });
console.log(`published: ${messageId}`);

// Receive messages.
const { value: message } = await messages.next();
console.log(`received: ${show(message?.payload)}`);
console.log(`  id ${message?.id}, offset ${message?.offset}, topic ${message?.topic}`);

// Monitoring: topic statistics.
const { messageCount, subscriberCount } = await broker.stats('orders');
console.log(`stats: ${show({ topic: 'orders', messageCount, subscriberCount })}`);

// Monitoring: list all topics.
await broker.createTopic('notifications');
await broker.createTopic('analytics');
console.log(`topics: ${show(await broker.listTopics())}`);

await messages.return();
await broker.stop();

import { Broker } from '@ratatoskr/broker';

const broker = await Broker.start();
await broker.createTopic('orders');
const orders = broker.subscribe('orders'); // an async iterator, subscribed now
await broker.publish('orders', { id: 123, amount: 99.9, currency: 'USD' });
const { value: message } = await orders.next();
console.log(message?.offset, message?.payload); // 0 { id: 123, amount: 99.9, currency: 'USD' }
const { messageCount, subscriberCount } = await broker.stats('orders');
console.log({ messageCount, subscriberCount }); // { messageCount: 1, subscriberCount: 1 }
await broker.stop();

/**
 * @ratatoskr/broker: a fault-tolerant publish/subscribe broker where every
 * topic is a supervised actor. Start one with `Broker.start()`; see the
 * package README for the API, the delivery guarantees and the defaults.
 */
export { Broker } from './broker.js';
export type {
  BrokerOptions,
  PublishOptions,
  BatchItem,
  BrokerHealth,
  BrokerProcesses,
} from './broker.js';
export { Message, isMessage, EMPTY_METADATA, payloadSize } from './message.js';
export type { Metadata, MessageId } from './message.js';
export { MessageStream } from './stream.js';
export type { MessageHandler } from './subscription.js';
export {
  SubscriptionEnd,
  SubscriberFailure,
  isSubscriptionEnd,
  isSubscriberFailure,
} from './notices.js';
export type { SubscriptionEndReason } from './notices.js';
export { DEFAULT_TOPIC_OPTIONS } from './options.js';
export type {
  TopicOptions,
  RetentionOptions,
  ResolvedTopicOptions,
  SubscribeOptions,
  SubscriberOverflow,
  StartFrom,
  ErrorDecision,
} from './options.js';
export { MAX_TOPIC_NAME_LENGTH, TOPIC_NAME_RULES, isValidTopicName } from './names.js';
export type { TopicStats, SubscriberStats } from './topic-server.js';
export type {
  BrokerLogger,
  BrokerLogRecord,
  BrokerTelemetryEvent,
  BrokerTelemetryHook,
} from './telemetry.js';
export {
  InvalidTopicNameError,
  TopicNotFoundError,
  TopicAlreadyExistsError,
  SubscriptionNotFoundError,
  MaxSubscribersReachedError,
  PayloadTooLargeError,
  InvalidPayloadError,
  InvalidMetadataError,
  InvalidBatchError,
  InvalidOptionError,
  TopicUnavailableError,
  TopicOverloadedError,
  SlowConsumerError,
  BrokerStoppedError,
  BrokerDownError,
  ConcurrentNextError,
} from './errors.js';

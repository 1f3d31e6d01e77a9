import { describe, expect, it } from 'vitest';
import { InvalidOptionError } from '../src/errors.js';
import {
  DEFAULT_TOPIC_OPTIONS,
  checkPublishOptions,
  resolveSubscribeOptions,
  resolveTopicOptions,
} from '../src/options.js';

describe('topic options', () => {
  it('fills the documented defaults', () => {
    expect(resolveTopicOptions(undefined)).toEqual({
      maxSubscribers: 1000,
      maxPayloadBytes: 1024 * 1024,
      maxPendingPublishes: 100_000,
      retention: { maxMessages: 10_000, maxBytes: 64 * 1024 * 1024, maxAgeMs: 3_600_000 },
    });
    expect(resolveTopicOptions({})).toEqual(DEFAULT_TOPIC_OPTIONS);
  });

  it('overrides given fields over the broker defaults, retention field by field', () => {
    const defaults = resolveTopicOptions({ maxSubscribers: 5, retention: { maxMessages: 7 } });
    const resolved = resolveTopicOptions({ retention: { maxAgeMs: Infinity } }, defaults);
    expect(resolved.maxSubscribers).toBe(5);
    expect(resolved.retention).toEqual({
      maxMessages: 7,
      maxBytes: 64 * 1024 * 1024,
      maxAgeMs: Infinity,
    });
  });

  it.each([
    [{ maxSubscribers: 0 }, 'maxSubscribers'],
    [{ maxSubscribers: 1.5 }, 'maxSubscribers'],
    [{ maxPayloadBytes: -1 }, 'maxPayloadBytes'],
    [{ maxPendingPublishes: 'many' }, 'maxPendingPublishes'],
    [{ retention: { maxMessages: -1 } }, 'retention.maxMessages'],
    [{ retention: { maxAgeMs: 0 } }, 'retention.maxAgeMs'],
    [{ retention: 5 }, 'retention'],
    [{ maxSubscriber: 3 }, 'maxSubscriber'],
  ])('refuses %j, naming %s', (input, option) => {
    expect(() => resolveTopicOptions(input as never)).toThrow(InvalidOptionError);
    try {
      resolveTopicOptions(input as never);
    } catch (error) {
      expect(error).toMatchObject({ code: 'invalid_option', option });
    }
  });
});

describe('subscribe options', () => {
  it('fills the documented defaults', () => {
    expect(resolveSubscribeOptions(undefined)).toEqual({
      bufferSize: 1024,
      overflow: 'drop_oldest',
      from: 'latest',
      filter: null,
      subscriberId: null,
      owner: null,
      onError: null,
      onEnd: null,
    });
  });

  it('accepts every documented value', () => {
    for (const from of ['latest', 'earliest', 0, 42] as const) {
      expect(resolveSubscribeOptions({ from }).from).toBe(from);
    }
    for (const overflow of ['drop_oldest', 'drop_newest', 'disconnect'] as const) {
      expect(resolveSubscribeOptions({ overflow }).overflow).toBe(overflow);
    }
  });

  it.each([
    [{ bufferSize: 0 }, 'bufferSize'],
    [{ overflow: 'block' }, 'overflow'],
    [{ from: -1 }, 'from'],
    [{ from: 'middle' }, 'from'],
    [{ filter: 'x' }, 'filter'],
    [{ subscriberId: '' }, 'subscriberId'],
    [{ owner: 'me' }, 'owner'],
    [{ buffer: 3 }, 'buffer'],
  ])('refuses %j, naming %s', (input, option) => {
    try {
      resolveSubscribeOptions(input as never);
      expect.unreachable();
    } catch (error) {
      expect(error).toBeInstanceOf(InvalidOptionError);
      expect(error).toMatchObject({ code: 'invalid_option', option });
    }
  });
});

describe('messages that say what was given and where (regressions)', () => {
  it('an array is not an options object', () => {
    expect(() => resolveTopicOptions([] as never)).toThrow(
      /^options must be an object, got an array/,
    );
    expect(() => resolveTopicOptions({ retention: [] } as never)).toThrow(
      /^options\.retention must be an object/,
    );
    expect(() => resolveSubscribeOptions([] as never)).toThrow(InvalidOptionError);
  });

  it('a subscribe target that is neither a handler, a pid nor options is named as such, not "options.options"', () => {
    expect(() => resolveSubscribeOptions('string' as never)).toThrow(
      /^subscribe's second argument must be a handler function, a Pid, or an options object, got "string"/,
    );
  });

  it('topic defaults are named under topicDefaults', () => {
    expect(() => resolveTopicOptions({ maxSubscribers: 0 }, undefined, 'topicDefaults.')).toThrow(
      /^options\.topicDefaults\.maxSubscribers must be/,
    );
  });

  it('an unknown option says it is unknown', () => {
    expect(() => resolveTopicOptions({ retention: { typo: 1 } } as never)).toThrow(
      /^options\.retention\.typo is unknown: it must be one of the known options \(maxMessages, maxBytes, maxAgeMs\), got 1/,
    );
  });
});

describe('publish options', () => {
  it('accepts metadata and partitionKey (and payload for a batch item), refuses anything else', () => {
    expect(checkPublishOptions({ metadata: {}, partitionKey: 'k' }, false)).toBeTruthy();
    expect(checkPublishOptions({ payload: 1, metadata: undefined }, true)).toBeTruthy();
    for (const bad of [null, 'x', 42, [], { metdata: {} }, { payload: 1 }]) {
      expect(() => checkPublishOptions(bad, false)).toThrow(InvalidOptionError);
    }
    expect(() => checkPublishOptions(null, false)).toThrow(
      /^publish options must be an object or undefined, got null/,
    );
  });
});

/**
 * The store: the process that owns the broker's topic table (`table.ts`),
 * the first child of the broker's tree.
 *
 * It does nothing but exist, so it has nothing to crash on; its lifetime is
 * the table's lifetime. When it starts it makes a fresh, empty table and
 * publishes it in the runtime; if it ever dies (killed on purpose, or the
 * tree restarted as a whole), the table dies with it, as an ETS table dies
 * with its owner: the tree's `rest_for_one` strategy then restarts every
 * later child against the new, empty table, and the new store ends every
 * subscription of the old table with reason `broker_stopped` (their processes
 * hold no monitor on the store: that would cost every subscriber a monitor),
 * and marks every old topic hosted on a thread deleted, so that its thread
 * drops its state.
 */
import { ok, type GenServer } from '@ratatoskr/actors';
import type { BrokerRuntime } from './runtime.js';
import { TopicTable } from './table.js';

/** The store's state: the runtime it published its table in. */
export interface StoreState {
  readonly runtime: BrokerRuntime;
  readonly table: TopicTable;
}

export const Store: GenServer<StoreState, BrokerRuntime> = {
  init(runtime, ctx) {
    // A previous table died with the previous store: its subscriptions end.
    runtime.table?.endAll('broker_stopped', false);
    const table = new TopicTable();
    runtime.table = table;
    runtime.storePid = ctx.self;
    return ok({ runtime, table });
  },

  formatState(state) {
    return { topics: state.table.topics.size };
  },
};

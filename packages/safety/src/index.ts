// The public API of @valve/safety. Every export here is a decision: adding one needs a changeset.
export { SafetyValve } from './SafetyValve.js';
export { CoDel, type CoDelSource, type CoDelState } from './CoDel.js';
export {
  QUEUE_DISCIPLINES,
  type Job,
  type JobContext,
  type LoadSheddingOptions,
  type QueueDiscipline,
  type RejectEvent,
  type RunOptions,
  type SafetyPermit,
  type SafetyValveConfiguration,
  type SafetyValveLimits,
  type SafetyValveOptions,
  type SafetyValveStats,
  type TryRunResult,
} from './options.js';
export {
  SafetyValves,
  ask,
  configure,
  defaultValves,
  run,
  stats,
  tryRun,
  valve,
  type ConfigureOptions,
} from './SafetyValves.js';
export { KeyedValve } from './KeyedValve.js';
export type {
  KeyedRunOptions,
  KeyedValveOptions,
  KeyedValveStats,
  KeyCoDelOptions,
  PerKeyOptions,
  PriorityClassOptions,
} from './keyedOptions.js';
export { FairFlow, FairLine, type FairCoDelOptions, type FairEntry } from './FairLine.js';
export { PriorityClasses, type PriorityEntry } from './PriorityClasses.js';

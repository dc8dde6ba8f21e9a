// The public API of @valve/core. Every export here is a decision: adding one needs a changeset.

export type { Clock, Timer } from './clock/Clock.js';
export { systemClock } from './clock/systemClock.js';
export { ManualClock } from './clock/ManualClock.js';
export { KeepAlive } from './clock/KeepAlive.js';

export { RingBuffer } from './buffers/RingBuffer.js';
export { BoundedRingBuffer } from './buffers/BoundedRingBuffer.js';

export { Counter } from './metrics/Counter.js';
export { Gauge } from './metrics/Gauge.js';
export { Histogram, DEFAULT_BUCKETS, type HistogramOptions } from './metrics/Histogram.js';
export { RateMeter, type RateMeterOptions } from './metrics/RateMeter.js';
export {
  MetricsRegistry,
  histogramSnapshot,
  type Family,
  type GaugeOptions,
  type HistogramSnapshot,
  type Labels,
  type MetricOptions,
  type MetricSnapshot,
  type MetricType,
  type RegistryHistogramOptions,
} from './metrics/MetricsRegistry.js';
export { escapeLabelValue, formatNumber, formatPrometheus } from './metrics/prometheus.js';

export {
  ValveError,
  ClosedError,
  QueueFullError,
  TimeoutError,
  DroppedError,
  REASONS,
  abortReason,
  errorForReason,
  isValveError,
  type Reason,
  type ValveErrorCode,
  type ValveErrorOptions,
} from './errors/ValveError.js';

export { Emitter, disposable, type Disposable, type Event, type Listener } from './events/Emitter.js';
export { rethrowLater } from './events/rethrowLater.js';

export { emptyRejectedByReason, type Valve, type ValveStats } from './valve/Valve.js';
export { ValveMetrics } from './valve/ValveMetrics.js';

export { SignalGroup, SignalGroups, type SignalLinks } from './abort/SignalGroups.js';

export { captureContext, NO_HOOKS_PROBE, NO_STORE, storeVisible, type CallerContext } from './context/callerContext.js';

export { Admission, type AdmissionOptions } from './admission/Admission.js';
export type { WaitLine } from './admission/WaitLine.js';
export { LazyQueue, type LazyQueueEntry } from './admission/LazyQueue.js';

export {
  LoadMonitor,
  processLoadSampler,
  type LoadCause,
  type LoadMonitorOptions,
  type LoadSample,
  type LoadSampler,
  type LoadState,
  type LoadThresholds,
} from './load/LoadMonitor.js';

export { isLimit, type Limit, type LimitSample } from './limits/Limit.js';
export { AimdLimit, type AimdLimitOptions } from './limits/AimdLimit.js';
export { Gradient2Limit, type Gradient2LimitOptions } from './limits/Gradient2Limit.js';
export { VegasLimit, type LimitFunction, type VegasLimitOptions } from './limits/VegasLimit.js';

export type { ConcurrencySource, Permit, RateSource } from './sources/Sources.js';
export { WaiterQueue } from './sources/WaiterQueue.js';
export { TokenBucket, type TokenBucketOptions } from './sources/TokenBucket.js';
export { LocalConcurrency, type LocalConcurrencyOptions, type LocalPermit } from './sources/LocalConcurrency.js';

export {
  backoffMs,
  delay,
  normalizeRetry,
  retry,
  type NormalizedRetry,
  type RetryContext,
  type RetryOptions,
  type RetryRunOptions,
} from './retry.js';

export {
  describeValue,
  rejectExtraArguments,
  rejectUnknownOptions,
  validateBoolean,
  validateClock,
  validateFunction,
  validateInteger,
  validateMetrics,
  validateNumber,
  validateObject,
  validateOneOf,
  validateSignal,
  validateString,
  type RangeOptions,
} from './validate.js';

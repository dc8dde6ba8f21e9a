/**
 * Process metrics for /metrics, read when scraped (gauges with `collect`), in the shared registry.
 * Names follow prom-client's defaults where they are gauges there too.
 */
import type { MetricsRegistry } from '@valve/core';
import { monitorEventLoopDelay } from 'node:perf_hooks';

export function registerProcessMetrics(registry: MetricsRegistry): { stop(): void } {
  const startS = Date.now() / 1000 - process.uptime();
  const loop = monitorEventLoopDelay({ resolution: 10 });
  loop.enable();
  registry.gauge({
    name: 'process_resident_memory_bytes',
    help: 'Resident memory size in bytes.',
    collect: () => process.memoryUsage.rss(),
  });
  registry.gauge({
    name: 'process_start_time_seconds',
    help: 'Start time of the process since the Unix epoch in seconds.',
    collect: () => startS,
  });
  registry.gauge({
    name: 'process_cpu_used_seconds',
    help: 'User plus system CPU time spent by the process, in seconds.',
    collect: () => {
      const u = process.cpuUsage();
      return (u.user + u.system) / 1e6;
    },
  });
  registry.gauge({
    name: 'nodejs_heap_used_bytes',
    help: 'V8 heap in use, in bytes.',
    collect: () => process.memoryUsage().heapUsed,
  });
  registry.gauge({
    name: 'nodejs_heap_total_bytes',
    help: 'V8 heap reserved, in bytes.',
    collect: () => process.memoryUsage().heapTotal,
  });
  registry.gauge({
    name: 'nodejs_eventloop_delay_p99_seconds',
    help: 'p99 of the event loop delay since the process started, in seconds.',
    collect: () => loop.percentile(99) / 1e9,
  });
  registry.gauge({
    name: 'nodejs_eventloop_delay_max_seconds',
    help: 'Largest event loop delay since the process started, in seconds.',
    collect: () => loop.max / 1e9,
  });
  return { stop: () => loop.disable() };
}

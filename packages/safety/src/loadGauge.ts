import type { LoadMonitor } from '@valve/core';
import type { Meters } from './meters.js';

/**
 * Registers the load gate's gauge, `valve_safety_overloaded_ratio`: 1 while the valve refuses new
 * jobs on the process's own load (`loadShedding`), else 0 (a state as a 0/1 ratio, so averaged over
 * time or valves it reads as the fraction shedding). Only a valve with a load gate has the series;
 * it leaves the registry with the valve's others on `close()`. Returns `load`.
 */
export function loadGauge(meters: Meters, load: LoadMonitor): LoadMonitor {
  meters.series.gauge(
    'valve_safety_overloaded_ratio',
    "1 while a safety valve refuses new jobs on the process's own load (loadShedding), else 0.",
    () => (load.overloaded ? 1 : 0),
  );
  return load;
}

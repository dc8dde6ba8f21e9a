/**
 * Entry point: `node dist/server.js`. Reads the environment, starts the demo, prints its
 * address, and shuts down gracefully on SIGTERM or SIGINT (a second signal exits at once).
 */
import { startDemo } from './app.js';
import { ConfigError, loadConfig } from './config.js';

async function main(): Promise<void> {
  let config: ReturnType<typeof loadConfig>;
  try {
    config = loadConfig();
  } catch (error) {
    if (error instanceof ConfigError) {
      console.error(`configuration error: ${error.message}`);
      process.exit(2);
    }
    throw error;
  }
  const started = performance.now();
  const demo = await startDemo(config);
  console.log(
    `valve demo listening on ${demo.url} (database: ${demo.db.description}, cache: ${demo.cache.kind}, ` +
      `${config.seedCustomers} customers, ready in ${Math.round(performance.now() - started)} ms)`,
  );

  let signals = 0;
  const shutdown = (signal: NodeJS.Signals): void => {
    signals++;
    if (signals > 1) {
      console.error(`${signal} again: exiting without waiting`);
      process.exit(130);
    }
    console.log(`${signal}: shutting down (draining accepted work)…`);
    demo.close().then(
      () => {
        console.log('shut down cleanly');
        process.exit(0);
      },
      (error: unknown) => {
        console.error('shutdown failed:', error);
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', shutdown);
  process.on('SIGINT', shutdown);
}

main().catch((error: unknown) => {
  console.error(`valve demo failed to start: ${error instanceof Error ? error.message : String(error)}`);
  process.exit(1);
});

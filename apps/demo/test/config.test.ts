import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../src/config.js';

describe('loadConfig', () => {
  it('has the documented defaults', () => {
    const c = loadConfig({});
    expect(c).toMatchObject({
      host: '127.0.0.1',
      port: 3000,
      listenBacklog: 4096,
      databaseUrl: undefined,
      redisUrl: undefined,
      seedCustomers: 10_000,
      dbPoolSize: 10,
      safetyConcurrency: 4,
      eventsMaxBlockMs: 50,
      poolMaxWorkers: 4,
      auditBufferSize: 10_000,
      auditBatchSize: 500,
      poolMaxQueued: 1000,
      eventsMaxPerRequest: 100,
      flushConcurrency: 1,
      safetyQueue: 'deadline',
    });
  });

  it('bounds LISTEN_BACKLOG, naming it', () => {
    expect(loadConfig({ LISTEN_BACKLOG: '1' }).listenBacklog).toBe(1);
    expect(() => loadConfig({ LISTEN_BACKLOG: '0' })).toThrow(
      /^LISTEN_BACKLOG must be an integer from 1 to 65535, got "0"$/,
    );
    expect(() => loadConfig({ LISTEN_BACKLOG: '65536' })).toThrow(ConfigError);
  });

  it('has the PGlite restart defaults and bounds them, naming the variable (issue 18 item 4)', () => {
    expect(loadConfig({})).toMatchObject({
      pgliteRestart: { initialDelayMs: 250, maxDelayMs: 10_000, maxAttempts: 5 },
      pgliteWorkerScript: undefined,
    });
    expect(loadConfig({ PGLITE_RESTART_DELAY_MS: '0', PGLITE_RESTART_MAX_ATTEMPTS: '0' }).pgliteRestart).toEqual({
      initialDelayMs: 0,
      maxDelayMs: 10_000,
      maxAttempts: 0,
    });
    // A delay above the default cap raises the cap's default with it.
    expect(loadConfig({ PGLITE_RESTART_DELAY_MS: '20000' }).pgliteRestart.maxDelayMs).toBe(20_000);
    expect(() => loadConfig({ PGLITE_RESTART_DELAY_MS: '-1' })).toThrow(
      /^PGLITE_RESTART_DELAY_MS must be an integer from 0 to 600000, got "-1"$/,
    );
    expect(() => loadConfig({ PGLITE_RESTART_MAX_ATTEMPTS: '1001' })).toThrow(/^PGLITE_RESTART_MAX_ATTEMPTS must be/);
    expect(() => loadConfig({ PGLITE_RESTART_DELAY_MS: '500', PGLITE_RESTART_MAX_DELAY_MS: '400' })).toThrow(
      /^PGLITE_RESTART_MAX_DELAY_MS \(400\) must not be below PGLITE_RESTART_DELAY_MS \(500\)$/,
    );
    expect(loadConfig({ PGLITE_WORKER_SCRIPT: ' /tmp/w.js ' }).pgliteWorkerScript).toBe('/tmp/w.js');
  });

  it('reads DEMO_RETAIN_ROWS, its interval and the PGlite checkpoint interval (issue 18 item 8)', () => {
    expect(loadConfig({})).toMatchObject({
      retainRows: undefined,
      retainIntervalMs: 10_000,
      pgliteCheckpointIntervalMs: 30_000,
    });
    expect(loadConfig({ DEMO_RETAIN_ROWS: '50000', PGLITE_CHECKPOINT_INTERVAL_MS: '0' })).toMatchObject({
      retainRows: 50_000,
      pgliteCheckpointIntervalMs: 0,
    });
    expect(() => loadConfig({ DEMO_RETAIN_ROWS: '0' })).toThrow(
      /^DEMO_RETAIN_ROWS must be an integer from 1 to 1000000000, got "0"$/,
    );
    expect(() => loadConfig({ DEMO_RETAIN_ROWS: '10', DATABASE_URL: 'mysql://root@127.0.0.1/test' })).toThrow(
      /^DEMO_RETAIN_ROWS works with PGlite and PostgreSQL only/,
    );
  });

  it('sizes the SafetyValve to the pool for a server database', () => {
    expect(loadConfig({ DATABASE_URL: 'mysql://root@127.0.0.1/test', DB_POOL_SIZE: '7' }).safetyConcurrency).toBe(7);
    expect(loadConfig({ DATABASE_URL: 'mysql://root@127.0.0.1/test' }).flushConcurrency).toBe(4);
    expect(loadConfig({ DATABASE_URL: 'mysql://root@127.0.0.1/test', DB_POOL_SIZE: '2' }).flushConcurrency).toBe(2);
  });

  it.each([
    ['PORT', '70000', /PORT must be an integer from 0 to 65535, got "70000"/],
    ['PORT', 'abc', /PORT must be an integer/],
    ['SEED_CUSTOMERS', '0', /SEED_CUSTOMERS must be an integer from 1/],
    ['SEED_CUSTOMERS', '1.5', /SEED_CUSTOMERS must be an integer/],
    ['DATABASE_URL', 'sqlite://x', /DATABASE_URL must use one of mysql:\/\//],
    ['DATABASE_URL', 'not a url', /DATABASE_URL must be a URL/],
    ['REDIS_URL', 'http://x', /REDIS_URL must use one of redis:\/\//],
    ['DEMO_TABLE_PREFIX', 'x; drop', /DEMO_TABLE_PREFIX must match/],
    ['EVENTS_BATCH_SIZE', '20000', /EVENTS_BATCH_SIZE must be an integer from 1 to 10000/],
    ['SAFETY_QUEUE', 'lifo', /SAFETY_QUEUE must be one of fifo, codel, codel-timer, deadline, got "lifo"/],
    ['POOL_MAX_WORKERS', '0', /POOL_MAX_WORKERS must be an integer from 1 to 1024, got "0"/],
    ['POOL_MAX_QUEUED', '0', /POOL_MAX_QUEUED must be an integer from 1 to 1000000, got "0"/],
    ['POOL_MAX_QUEUED', '1000001', /POOL_MAX_QUEUED must be an integer from 1 to 1000000, got "1000001"/],
    ['POOL_MAX_QUEUED', '1.5', /POOL_MAX_QUEUED must be an integer from 1 to 1000000, got "1.5"/],
    ['EVENTS_MAX_PER_REQUEST', '0', /EVENTS_MAX_PER_REQUEST must be an integer from 1 to 10000/],
    ['SAFETY_LIMITS', 'global', /SAFETY_LIMITS must be one of local, redis, got "global"/],
    ['SAFETY_LIMITS', 'redis', /SAFETY_LIMITS=redis needs REDIS_URL/],
  ])('rejects %s=%s naming the variable', (name, value, message) => {
    expect(() => loadConfig({ [name]: value })).toThrow(ConfigError);
    expect(() => loadConfig({ [name]: value })).toThrow(message);
  });

  it('puts the SafetyValve limits in Redis with DEMO_PROCESSES > 1 or SAFETY_LIMITS=redis', () => {
    const redis = { REDIS_URL: 'redis://127.0.0.1:6379' };
    expect(loadConfig(redis).sharedLimits).toBe(false);
    expect(loadConfig({ ...redis, SAFETY_LIMITS: 'redis' }).sharedLimits).toBe(true);
    expect(loadConfig({ ...redis, DEMO_PROCESSES: '2' }).sharedLimits).toBe(true);
    expect(() => loadConfig({ ...redis, DEMO_PROCESSES: '2', SAFETY_LIMITS: 'local' })).toThrow(
      /SAFETY_LIMITS=local cannot be used with DEMO_PROCESSES=2/,
    );
  });

  it('rejects a batch larger than the buffer', () => {
    expect(() => loadConfig({ EVENTS_BUFFER_SIZE: '10', EVENTS_BATCH_SIZE: '20' })).toThrow(
      /EVENTS_BATCH_SIZE \(20\) must not exceed EVENTS_BUFFER_SIZE \(10\)/,
    );
    expect(() => loadConfig({ AUDIT_BUFFER_SIZE: '10', AUDIT_BATCH_SIZE: '20' })).toThrow(
      /AUDIT_BATCH_SIZE \(20\) must not exceed AUDIT_BUFFER_SIZE \(10\)/,
    );
  });
});

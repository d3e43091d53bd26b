export { commonEnv, env, loadConfig } from './config.js';
export { HttpError, invalidRequest, unavailable, type FieldProblem } from './errors.js';
export { body, close, createApp, listen, parse, type HealthReport } from './http.js';
export { BrokerProbe, createKafka, type Admin, type BrokerState, type Consumer, type EachMessagePayload, type Producer } from './kafka.js';
export { createLogger, type Logger } from './logger.js';
export { createRegistry } from './metrics.js';
export { RateWindow, round } from './rate.js';
export { onShutdown, run } from './shutdown.js';
export { contextFromHeaders, startTelemetry, traceHeaders, type Telemetry } from './telemetry.js';

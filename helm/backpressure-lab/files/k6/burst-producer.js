// burst-producer.js: the seed's traffic spike (Exercise 8): POST /produce/batch?count=BATCH_SIZE
// (BATCH_SIZE orders per request) at BASE_RATE requests per second for BASE_DURATION, a 5 s ramp
// to PEAK_RATE, held for PEAK_DURATION, a 5 s ramp back, and BASE_RATE again for BASE_DURATION.
// An open model (k6's ramping-arrival-rate executor): requests start on schedule whether or not
// earlier ones have answered, so the spike reaches the producer, and Kafka, as it would in
// production; the consumers fall behind and lag builds (the operator then scales them out).
// Orders sent: BATCH_SIZE x (2 x BASE_RATE x BASE_DURATION + (BASE_RATE + PEAK_RATE) x 5 s
// + PEAK_RATE x PEAK_DURATION): with the defaults 10 x 4800 = 48,000.
//
// Run it:
//   make load-burst             a Job in the lab's cluster (kind: pulls grafana/k6), logs followed
//   make port-forward && k6 run -e TARGET=http://localhost:8000 k8s/k6/burst-producer.js
//   k6 run -e TARGET=http://localhost:8000 -e PEAK_RATE=50 -e PEAK_DURATION=1m k8s/k6/burst-producer.js
// Environment (defaults: the chart's load.* values in helm/backpressure-lab/values.yaml):
//   TARGET         the producer's base URL (http://producer:8000)
//   BATCH_SIZE     orders per request (10)
//   BASE_RATE      requests per second before and after the peak (20)
//   PEAK_RATE      requests per second at the peak (100)
//   PEAK_DURATION  how long the peak holds, a k6 duration (30s)
//   BASE_DURATION  how long the warm-up and the cool-down each last (30s)
// A value that is not a positive whole number (rates, batch size) or a k6 duration stops the
// script before any request (k6 exits non-zero).
import http from 'k6/http';
import { check } from 'k6';
import { duration, positiveInt, TARGET } from './env.js';

const BATCH_SIZE = positiveInt('BATCH_SIZE', 10);
const BASE_RATE = positiveInt('BASE_RATE', 20);
const PEAK_RATE = positiveInt('PEAK_RATE', 100);
const PEAK_DURATION = duration('PEAK_DURATION', '30s');
const BASE_DURATION = duration('BASE_DURATION', '30s');
const RAMP = '5s';

export const options = {
  scenarios: {
    burst: {
      executor: 'ramping-arrival-rate',
      startRate: BASE_RATE,
      timeUnit: '1s',
      stages: [
        { target: BASE_RATE, duration: BASE_DURATION },
        { target: PEAK_RATE, duration: RAMP },
        { target: PEAK_RATE, duration: PEAK_DURATION },
        { target: BASE_RATE, duration: RAMP },
        { target: BASE_RATE, duration: BASE_DURATION },
      ],
      // VUs = rate x latency, sized for the peak: 250 ms per request up front, up to 1 s.
      preAllocatedVUs: Math.max(2, Math.ceil(PEAK_RATE / 4)),
      maxVUs: Math.max(10, PEAK_RATE),
    },
  },
  thresholds: {
    http_req_failed: ['rate<0.01'],
    checks: ['rate>0.99'],
    // BATCH_SIZE orders per request, at the peak's pace.
    http_req_duration: ['p(95)<2000'],
  },
  // Only the status is checked: k6 need not keep the bodies.
  discardResponseBodies: true,
};

export default function () {
  const res = http.post(`${TARGET}/produce/batch?count=${BATCH_SIZE}`, null, {
    tags: { name: 'POST /produce/batch' },
  });
  check(res, { 'status is 201': (r) => r.status === 201 });
}

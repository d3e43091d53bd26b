// steady-producer.js: the seed's steady-state load (Exercise 8): a fixed number of orders per
// second, each one POST /produce with a small JSON order, for a fixed time. An open model
// (k6's constant-arrival-rate executor): requests start on schedule whether or not earlier ones
// have answered, as independent clients do, so a slow producer shows as latency (and, past
// maxVUs, as dropped_iterations) instead of quietly lowering the rate.
//
// Run it:
//   make load-steady            a Job in the lab's cluster (kind: pulls grafana/k6), logs followed
//   make port-forward && k6 run -e TARGET=http://localhost:8000 k8s/k6/steady-producer.js
//   k6 run -e TARGET=http://localhost:8000 -e RATE=20 -e DURATION=1m k8s/k6/steady-producer.js
// Environment (defaults: the chart's load.* values in helm/backpressure-lab/values.yaml):
//   TARGET    the producer's base URL (http://producer:8000, its Service in the lab's namespace)
//   RATE      requests (= orders) per second (5)
//   DURATION  how long, a k6 duration (3m)
// A RATE that is not a positive whole number or a DURATION that is not a duration stops the
// script before any request (k6 exits non-zero).
import http from 'k6/http';
import { check } from 'k6';
import { duration, positiveInt, TARGET } from './env.js';

const RATE = positiveInt('RATE', 5);
const DURATION = duration('DURATION', '3m');
const PRODUCTS = ['keyboard', 'mouse', 'monitor', 'headset', 'webcam', 'dock'];

export const options = {
  scenarios: {
    steady: {
      executor: 'constant-arrival-rate',
      rate: RATE,
      timeUnit: '1s',
      duration: DURATION,
      // VUs = rate x latency: enough for 250 ms per request up front, and up to 1 s.
      preAllocatedVUs: Math.max(2, Math.ceil(RATE / 4)),
      maxVUs: Math.max(10, RATE),
    },
  },
  thresholds: {
    http_req_failed: ['rate<0.01'],
    checks: ['rate>0.99'],
    // One order, acknowledged by every in-sync replica (acks=all).
    http_req_duration: ['p(95)<500'],
  },
  // Only the status is checked: k6 need not keep the bodies.
  discardResponseBodies: true,
};

export default function () {
  const order = {
    customer_id: `k6-steady-${__VU}`,
    product: PRODUCTS[__ITER % PRODUCTS.length],
    quantity: 1 + (__ITER % 5),
    amount: 19.99,
  };
  const res = http.post(`${TARGET}/produce`, JSON.stringify(order), {
    headers: { 'Content-Type': 'application/json' },
    tags: { name: 'POST /produce' },
  });
  check(res, { 'status is 201': (r) => r.status === 201 });
}

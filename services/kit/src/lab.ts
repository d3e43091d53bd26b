import lab from './lab.json' with { type: 'json' };

/**
 * The lab's one list of ports, names and paths (lab.json), read by the services' config
 * defaults, the operator's local mode, the tests and, through hack/lib/lab.sh, the scripts.
 * Consumer n (1-based) listens on consumerBase + n - 1.
 */
export const LAB = lab;

// Preloaded into every process of the mixed scenario (NODE_OPTIONS=--import ...): Node refuses
// --trace-gc in NODE_OPTIONS, but V8 takes the flag at run time. Each GC is then one line in the
// process's log, with the heap before and after it (bench/mixed.mjs reads the full GCs).
import { setFlagsFromString } from 'node:v8';

setFlagsFromString('--trace-gc');

// `make exercise N`: runs exercise N of the README against the running lab, local or in a cluster
// through make port-forward, prints each step as the curl line it runs, then what it observed
// beside what the math says, and ends with PASS (exit 0) or FAIL (exit 1). No N lists them; a bad
// N exits 2. Whatever happens, the lab is left as it was found (exercises/lab.mjs's restore).
// exercise.sh passes the lab's ports in LAB_* and LAB_TARGET: local or cluster (how it tells).
import { bold, c, dim, NotHappened } from './view.mjs';
import { Lab, NotReady } from './exercises/lab.mjs';
import { seedExercises } from './exercises/seed.mjs';
import { strategyExercises } from './exercises/strategies.mjs';

const exercises = [...seedExercises, ...strategyExercises];

function list() {
  console.log(`${bold('make exercise N')} runs exercise N of the README against the running lab and checks it against the math:\n`);
  for (const e of exercises) console.log(`  ${bold(String(e.n).padStart(2))}  ${e.title.padEnd(52)} ${dim(e.summary)}`);
  console.log(`\nStart a lab first: ${bold('make local-up')} (or ${bold('make up && make port-forward')} for the cluster).`);
}

const arg = process.argv[2];
if (arg === undefined || arg === '') {
  list();
  process.exit(0);
}
const exercise = /^\d+$/.test(arg) ? exercises.find((e) => e.n === Number(arg)) : undefined;
if (!exercise) {
  console.error(`${c('31', 'error:')} no exercise '${arg}': N is a number from 1 to ${exercises.length} (make exercise lists them)`);
  process.exit(2);
}

const lab = new Lab();
const started = Date.now();
console.log(`${bold(`Exercise ${exercise.n}: ${exercise.title}`)}  ${dim(exercise.summary)}`);
console.log(dim(`against ${lab.describe()}`));

let failure = null;
// Ctrl-C or kill: the exercise stops at its next call to the lab, which is then put back; a
// second signal exits at once.
const exitCodes = { SIGINT: 130, SIGTERM: 143, SIGHUP: 129 };
for (const [signal, code] of Object.entries(exitCodes)) {
  process.on(signal, () => {
    if (lab.interrupted) process.exit(code);
    console.log(`\n${c('33', `${signal}: stopping the exercise and putting the lab back (again to quit at once)`)}`);
    lab.interrupt(signal);
  });
}

try {
  await lab.preflight();
  await lab.prepare(exercise);
  await exercise.run(lab);
} catch (err) {
  failure = err;
}
try {
  await lab.restore();
} catch (err) {
  failure ??= err;
  console.log(`${c('31', 'could not put the lab back:')} ${err.message}`);
}
if (lab.interrupted) process.exit(exitCodes[lab.interrupted]);

if (failure instanceof NotReady) {
  console.log(`\n${c('31', 'not ready:')} ${failure.message}`);
} else if (failure) {
  const what = failure instanceof NotHappened ? 'did not happen' : 'error';
  lab.check('the exercise ran to its end', 'every step', `${what}: ${failure.message}`, false);
}
if (lab.checks.length) lab.report();
const seconds = ((Date.now() - started) / 1000).toFixed(1);
const passed = lab.passed && !failure;
console.log(`\n${passed ? c('32', bold('PASS')) : c('31', bold('FAIL'))} exercise ${exercise.n}: ${exercise.title} (${seconds} s)`);
process.exit(passed ? 0 : 1);

import { execSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';

export interface Stage {
  name: string | undefined;
  image: string;
  root: string;
  workdir: string;
  env: Record<string, string>;
  user: string | undefined;
  cmd: string[] | undefined;
  expose: number[];
}

/** Build-context paths .dockerignore leaves out (the repository's file lists exactly these). */
const IGNORED = new Set(['node_modules', 'dist', '.lab', '.git']);

/**
 * Runs a Dockerfile's instructions without Docker: every stage is a directory standing in for the
 * image's filesystem, RUN runs on this machine's Node and npm, COPY follows Docker's rules for
 * files and directories. What it checks is the Dockerfile's own logic (paths, stages, install
 * and build commands, the final layout); the base image's Node version is the one thing it
 * cannot reproduce.
 */
export function simulateBuild(dockerfile: string, context: string): Stage[] {
  const lines = readFileSync(dockerfile, 'utf8')
    .replace(/\\\n/g, ' ')
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l && !l.startsWith('#'));
  const stages: Stage[] = [];
  const current = () => {
    const stage = stages.at(-1);
    if (!stage) throw new Error(`${dockerfile}: instruction before FROM`);
    return stage;
  };
  const inStage = (stage: Stage, path: string) => join(stage.root, path.startsWith('/') ? path : join(stage.workdir, path));

  for (const line of lines) {
    const [instruction, ...rest] = line.split(/\s+/);
    const args = rest.join(' ');
    switch (instruction!.toUpperCase()) {
      case 'FROM': {
        const [image, as, name] = rest;
        stages.push({ name: as?.toUpperCase() === 'AS' ? name : undefined, image: image!, root: mkdtempSync(join(tmpdir(), 'bplab-image-')), workdir: '/', env: {}, user: undefined, cmd: undefined, expose: [] });
        break;
      }
      case 'WORKDIR':
        current().workdir = args;
        mkdirSync(inStage(current(), args), { recursive: true });
        break;
      case 'ENV': {
        const [key, ...value] = args.split('=');
        current().env[key!] = value.join('=');
        break;
      }
      case 'USER':
        current().user = args;
        break;
      case 'EXPOSE':
        current().expose.push(...rest.map(Number));
        break;
      case 'CMD':
        current().cmd = JSON.parse(args) as string[];
        break;
      case 'RUN':
        execSync(args, { cwd: inStage(current(), '.'), env: { ...process.env, ...current().env }, stdio: 'pipe', shell: '/bin/sh' });
        break;
      case 'COPY': {
        const from = rest[0]!.startsWith('--from=') ? rest.shift()!.slice('--from='.length) : undefined;
        const dest = rest.pop()!;
        const source = from === undefined ? undefined : stages.find((s) => s.name === from);
        if (from !== undefined && !source) throw new Error(`${dockerfile}: COPY --from=${from}: no such stage`);
        for (const src of rest) {
          const origin = source ? join(source.root, src) : join(context, src);
          if (!existsSync(origin)) throw new Error(`${dockerfile}: COPY ${src}: not found in ${source ? `stage ${from}` : 'the build context'}`);
          const target = inStage(current(), dest);
          const intoDir = dest.endsWith('/') || rest.length > 1;
          const to = statSync(origin).isDirectory() ? target : intoDir ? join(target, basename(origin)) : target;
          cpSync(origin, to, { recursive: true, verbatimSymlinks: true, filter: (path) => source !== undefined || !path.slice(context.length).split('/').some((part) => IGNORED.has(part)) });
        }
        break;
      }
      default:
        throw new Error(`${dockerfile}: unsupported instruction ${instruction}`);
    }
  }
  return stages;
}

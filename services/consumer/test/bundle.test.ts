import { readFileSync } from 'node:fs';
import { builtinModules } from 'node:module';
import { join } from 'node:path';
import { LAB } from '@bplab/kit';
import { describe, expect, it } from 'vitest';
import { REPO } from '../../../test/support/paths.js';

// The file make build writes and every consumer process runs (the e2e tests run it too); read as
// built, so this checks the build as well as bundle.mjs.
const source = readFileSync(join(REPO, LAB.paths.consumerEntry), 'latin1');

describe('the consumer bundle (lab.json consumerEntry)', () => {
  it('is ASCII, so V8 holds its source at one byte a character', () => {
    const offenders = [...source.matchAll(/[\x80-\xff]/g)].map((m) => JSON.stringify(source.slice(Math.max(0, m.index - 30), m.index + 5)));
    expect(offenders).toEqual([]);
  });

  it("loads nothing from node_modules but OpenTelemetry's: the image holds only the bundle and that", () => {
    const specifiers = [...source.matchAll(/(?:\brequire\(|\bimport\(|\bfrom ?)"([^"]+)"/g)].map((m) => m[1]!);
    const builtin = (s: string) => s.startsWith('node:') || builtinModules.includes(s.split('/')[0]!);
    expect(specifiers.length).toBeGreaterThan(0);
    expect(specifiers.filter((s) => !builtin(s) && !s.startsWith('@opentelemetry/'))).toEqual([]);
    expect(specifiers.filter((s) => s.startsWith('@opentelemetry/')).length).toBeGreaterThan(0);
  });
});

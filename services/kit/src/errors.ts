import type { z } from 'zod';

interface FieldProblem {
  field: string;
  reason: string;
}

/** An error with an HTTP status and a JSON body; the HTTP bootstrap turns it into the response. */
export class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly details: Record<string, unknown> = {},
  ) {
    super(message);
  }
}

/** 400 naming each field and the reason it was refused. */
export function invalidRequest(problems: FieldProblem[]): HttpError {
  const summary = problems.map((p) => `${p.field}: ${p.reason}`).join('; ');
  return new HttpError(400, `invalid request: ${summary}`, { problems });
}

export function zodProblems(error: z.ZodError, where: string): FieldProblem[] {
  const field = (path: PropertyKey[]) => [where, ...path.map(String)].join('.');
  return error.issues.flatMap((issue) =>
    issue.code === 'unrecognized_keys'
      ? issue.keys.map((key) => ({ field: field([...issue.path, key]), reason: 'unknown field' }))
      : [{ field: field(issue.path), reason: issue.message }],
  );
}

/** 503 for writes while Kafka cannot take them. */
export function unavailable(reason: string): HttpError {
  return new HttpError(503, `kafka unavailable: ${reason}`, { retryable: true });
}

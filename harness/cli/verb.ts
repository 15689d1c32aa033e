// The shape of a CLI verb: a name, a one-line summary, and a runner returning the exit code.
export interface Verb {
  name: string;
  summary: string;
  run(argv: string[]): Promise<number>;
}

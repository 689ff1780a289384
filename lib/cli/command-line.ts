import { parseArgs } from 'node:util';
import type { FlagValue } from './guest-flags.js';
import { UsageError } from './usage-error.js';

/** A flag as --help lists it and parseArgs reads it. */
export interface FlagSpec {
  flag: string;
  /** Shown after the flag; absent for switches. */
  valueName?: string;
  repeatable?: boolean;
  short?: string;
  help: string;
}

export interface CommandLine {
  /** Given flags by name; repeatable ones as arrays. */
  values: Record<string, FlagValue>;
  /** The flag names in the order given, for flags that exclude each other. */
  order: string[];
  /** PROGRAM and its arguments: everything after `--` or from the first non-option on. */
  program: string[];
}

/**
 * Reads `argv` as `[OPTIONS] [--] [PROGRAM ARGS...]`. Options end at the first word that is
 * not one, as for env(1) and setpriv(1), so the program's own options are never taken for
 * capspawn's. parseArgs tokenises; the checks here turn its findings into one-line messages.
 */
export function parseCommandLine(argv: readonly string[], flags: readonly FlagSpec[], command: string): CommandLine {
  const specs = new Map(flags.map((f) => [f.flag, f]));
  const options = Object.fromEntries(
    flags.map(
      (f) =>
        [
          f.flag,
          { type: f.valueName ? 'string' : 'boolean', multiple: f.repeatable ?? false, ...(f.short && { short: f.short }) },
        ] as const,
    ),
  );
  const { tokens } = parseArgs({ args: [...argv], options, strict: false, allowPositionals: true, tokens: true });

  const values: Record<string, FlagValue> = {};
  const order: string[] = [];
  let programStart = argv.length;
  for (const token of tokens) {
    if (token.kind === 'positional' || token.kind === 'option-terminator') {
      programStart = token.kind === 'positional' ? token.index : token.index + 1;
      break;
    }
    const spec = specs.get(token.name);
    if (!spec) {
      throw new UsageError(
        `unknown option ${token.rawName}: see \`capspawn ${command} --help\`; put the program and its arguments after --`,
      );
    }
    if (spec.valueName) {
      if (token.value === undefined || (!token.inlineValue && token.value.startsWith('-'))) {
        throw new UsageError(`${token.rawName} needs a value: ${token.rawName} ${spec.valueName}`);
      }
      if (spec.repeatable) values[spec.flag] = [...((values[spec.flag] as string[] | undefined) ?? []), token.value];
      else if (values[spec.flag] !== undefined) {
        throw new UsageError(`--${spec.flag} given twice (${values[spec.flag] as string} and ${token.value}): give it once`);
      } else values[spec.flag] = token.value;
    } else {
      if (token.inlineValue) throw new UsageError(`${token.rawName} takes no value: write just ${token.rawName}`);
      values[spec.flag] = true;
    }
    order.push(spec.flag);
  }
  return { values, order, program: argv.slice(programStart) };
}

export const HELP_FLAG: FlagSpec = { flag: 'help', short: 'h', help: 'show this help' };
export const JSON_FLAG: FlagSpec = { flag: 'json', help: 'print one JSON object instead of text' };

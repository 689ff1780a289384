import { readFileSync } from 'node:fs';
import type { FlagSpec } from './command-line.js';

/** What `capspawn COMMAND --help` prints, section by section. */
export interface HelpText {
  usage: readonly string[];
  /** Prose, wrapped here to fit a terminal. */
  description: string;
  /** Preformatted text after the description, such as a list of commands. */
  preformatted?: string;
  /** Titled lists of flags. */
  flags: readonly { title: string; flags: readonly FlagSpec[] }[];
  examples: readonly string[];
  footer?: string;
}

const FLAG_COLUMN = 26;
const WIDTH = 80;

function wrap(text: string): string {
  const lines: string[] = [];
  let line = '';
  for (const word of text.split(/\s+/)) {
    if (line && line.length + 1 + word.length > WIDTH) {
      lines.push(line);
      line = word;
    } else line = line ? `${line} ${word}` : word;
  }
  return [...lines, line].join('\n');
}

function flagLine(spec: FlagSpec): string {
  const names = `${spec.short ? `-${spec.short}, ` : ''}--${spec.flag}${spec.valueName ? ` ${spec.valueName}` : ''}`;
  const padded = `  ${names}`.padEnd(FLAG_COLUMN);
  return padded.length > FLAG_COLUMN ? `  ${names}\n${' '.repeat(FLAG_COLUMN)}${spec.help}` : `${padded}${spec.help}`;
}

export function renderHelp(help: HelpText): string {
  const sections = [
    `Usage:\n${help.usage.map((u) => `  ${u}`).join('\n')}`,
    wrap(help.description),
    ...(help.preformatted ? [help.preformatted] : []),
    ...help.flags.map((group) => `${group.title}:\n${group.flags.map(flagLine).join('\n')}`),
    `Examples:\n${help.examples.map((e) => `  ${e}`).join('\n')}`,
    ...(help.footer ? [help.footer] : []),
  ];
  return `${sections.join('\n\n')}\n`;
}

/** How run and explain report failure; the same statuses as env(1) and timeout(1). */
export const EXIT_STATUS_HELP = `Exit status:
  PROGRAM's own status, or 128+N when a signal N killed it;
  125 when capspawn itself failed (a bad option, or a launch step failed);
  126 when PROGRAM was found but could not be executed; 127 when it was not found.`;

/** The package's version, from the package.json one level above lib/ and dist/. */
export function packageVersion(): string {
  const manifest = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };
  return manifest.version;
}

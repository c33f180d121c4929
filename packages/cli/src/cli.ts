import { describeFailure, UsageError } from './errors.js';
import { BENCH_HELP, EVALUATE_HELP, EXPLAIN_HELP, HELP, LIST_HELP, REPORT_HELP } from './help.js';
import type { Io } from './log.js';
import { ownPackageJson } from './plugin-node.js';
import type { CommandContext } from './shared.js';

type Command = (args: string[], ctx: CommandContext) => Promise<number>;

// Commands are imported when run, so that help and version answer without loading TensorFlow.js.
const COMMANDS: Record<string, { load: () => Promise<Command>; help: string }> = {
  list: { load: async () => (await import('./commands/list.js')).listCommand, help: LIST_HELP },
  explain: { load: async () => (await import('./commands/explain.js')).explainCommand, help: EXPLAIN_HELP },
  evaluate: { load: async () => (await import('./commands/evaluate.js')).evaluateCommand, help: EVALUATE_HELP },
  report: { load: async () => (await import('./commands/report.js')).reportCommand, help: REPORT_HELP },
  bench: { load: async () => (await import('./commands/bench.js')).benchCommand, help: BENCH_HELP },
};

/**
 * Runs the CLI with `argv` (without `node` and the script) and returns the exit code:
 * 0 success, 1 bad input or a failed run, 2 a usage error. Errors are one line on stderr,
 * `cnn-xai: <reason>`; CNN_XAI_DEBUG=1 adds the stack trace.
 */
export async function main(argv: readonly string[], io: Io = process, env: NodeJS.ProcessEnv = process.env): Promise<number> {
  const ctx: CommandContext = { io, env };
  try {
    const [first, ...rest] = argv;
    if (first === undefined || first === '-h' || first === '--help' || first === 'help') {
      const topic = first === 'help' ? rest[0] : undefined;
      if (first === undefined) {
        io.stderr.write(HELP);
        return 2;
      }
      io.stdout.write(topic && COMMANDS[topic] ? COMMANDS[topic].help : HELP);
      return 0;
    }
    if (first === '-v' || first === '--version') {
      io.stdout.write(`${ownPackageJson().version ?? '0.0.0'}\n`);
      return 0;
    }
    const command = COMMANDS[first];
    if (!command) {
      throw new UsageError(
        first.startsWith('-')
          ? `Give a command before options (${Object.keys(COMMANDS).join(', ')}); see \`cnn-xai --help\`.`
          : `Unknown command "${first}". Commands: ${Object.keys(COMMANDS).join(', ')}; see \`cnn-xai --help\`.`,
      );
    }
    if (rest.includes('--help') || rest.includes('-h')) {
      io.stdout.write(command.help);
      return 0;
    }
    try {
      const run = await command.load();
      return await run([...rest], ctx);
    } catch (e) {
      // parseArgs' messages name the flag; point to the command's help as well.
      const code = (e as { code?: unknown }).code;
      if (typeof code === 'string' && code.startsWith('ERR_PARSE_ARGS') && e instanceof Error) {
        throw new UsageError(`${e.message.split('\n')[0]?.replace(/\.?\s*$/, '')}; see \`cnn-xai ${first} --help\`.`);
      }
      throw e;
    }
  } catch (e) {
    const f = describeFailure(e);
    const debug = env['CNN_XAI_DEBUG'] === '1';
    const note = f.unexpected && !debug ? ' (an internal error: CNN_XAI_DEBUG=1 shows the stack trace)' : '';
    io.stderr.write(`cnn-xai: ${f.message}${note}\n`);
    if (debug && e instanceof Error && e.stack) io.stderr.write(`${e.stack}\n`);
    return f.code;
  }
}

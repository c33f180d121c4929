#!/usr/bin/env node
// The `cnn-xai` command. The CLI is imported dynamically so that even a failure to load it
// (a missing or broken dependency) is reported as one line, not as a stack trace.
try {
  const { main } = await import('./cli.js');
  process.exitCode = await main(process.argv.slice(2));
} catch (e) {
  const msg = e instanceof Error ? e.message : String(e);
  process.stderr.write(`cnn-xai: cannot start: ${(msg.split('\n')[0] ?? msg).trim()}\n`);
  if (process.env['CNN_XAI_DEBUG'] === '1' && e instanceof Error && e.stack) process.stderr.write(`${e.stack}\n`);
  process.exitCode = 1;
}

export {};

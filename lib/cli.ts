#!/usr/bin/env node
// The `capspawn` command; everything it does lives in lib/cli/.
import { main } from './cli/main.js';

process.exitCode = await main(process.argv.slice(2));

/**
 * Commander parser for options that name a file or folder: resolved where the
 * user typed the command, which under `pnpm picompute …` is not the working
 * directory (see userCwd in @picompute/sdk/env).
 */
import { userPath } from '@picompute/sdk/env';

export const pathOption = (value: string): string => userPath(value);

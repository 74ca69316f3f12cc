import { mergeConfig } from 'vitest/config';
import shared from '../../vitest.shared.ts';

// Each file starts the viewer and four service processes: run the files one after another.
export default mergeConfig(shared, { test: { fileParallelism: false, testTimeout: 60_000 } });

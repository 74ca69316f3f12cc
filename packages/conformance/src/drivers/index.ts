/**
 * Every adapter × framework version the conformance suite runs. To add an adapter, write
 * `src/drivers/<adapter>.ts` exporting its `AdapterDriver`s and add them here.
 */
import type { AdapterDriver } from '../driver.js';
import { expressDrivers } from './express.js';
import { koaDrivers } from './koa.js';
import { fastifyDrivers } from './fastify.js';
import { nestjsDrivers } from './nestjs.js';

export const drivers: readonly AdapterDriver[] = [
  ...expressDrivers,
  ...koaDrivers,
  ...fastifyDrivers,
  ...nestjsDrivers,
];

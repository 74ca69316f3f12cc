/**
 * Loads one Nest major from `test/matrix/<major>` (a real install, not an alias): `createRequire` on
 * that directory resolves each package, and a dynamic import loads it (CommonJS for Nest 10 and 11,
 * ES modules for Nest 12).
 */
import { createRequire } from 'node:module';
import { pathToFileURL } from 'node:url';

// biome-ignore lint/suspicious/noExplicitAny: the suite drives three majors whose types differ
export type Any = any;

export interface Nest {
  major: string;
  version: string;
  common: Any;
  core: Any;
  express: Any;
  fastify: Any;
}

export async function loadNest(major: string): Promise<Nest> {
  const dir = new URL(`../matrix/${major}/`, import.meta.url);
  const req = createRequire(new URL('package.json', dir));
  const load = async (name: string) => {
    const ns = await import(pathToFileURL(req.resolve(name)).href);
    // A CommonJS module's named exports are detected statically; fall back to its `module.exports`.
    return ns.default && typeof ns.default === 'object' && !ns.Module && !ns.NestFactory
      ? { ...ns.default, ...ns }
      : ns;
  };
  await load('reflect-metadata');
  const common = await load('@nestjs/common');
  const core = await load('@nestjs/core');
  const express = await load('@nestjs/platform-express');
  const fastify = await load('@nestjs/platform-fastify');
  const version = (req('@nestjs/core/package.json') as { version: string }).version;
  return { major, version, common, core, express, fastify };
}

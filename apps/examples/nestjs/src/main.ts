// A NestJS app traced with @tracewire/nestjs, on Express (default) or Fastify (--fastify), with a
// global prefix and URI versioning. Spans are exported over OTLP/HTTP (OTEL_EXPORTER_OTLP_ENDPOINT,
// default http://localhost:4318; `npm start` at the repository root runs a local viewer there).
//
//   npm run start --prefix apps/examples/nestjs                  serve on PORT (default 3000)
//   node apps/examples/nestjs/dist/main.js --smoke [--fastify]   send a few requests to itself, exit
import 'reflect-metadata';
import { start } from '@tracewire/core'; // first: the SDK is in place before Nest handles anything
import { VersioningType } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { ExpressAdapter } from '@nestjs/platform-express';
import { FastifyAdapter } from '@nestjs/platform-fastify';
import { AppModule } from './app.module.js';

const smoke = process.argv.includes('--smoke');
const onFastify = process.argv.includes('--fastify');
const tracing = start({ serviceName: `example-nestjs-${onFastify ? 'fastify' : 'express'}` });

const app = await NestFactory.create(AppModule, onFastify ? new FastifyAdapter() : new ExpressAdapter(), {
  logger: smoke ? false : undefined,
});
app.setGlobalPrefix('api');
app.enableVersioning({ type: VersioningType.URI });
await app.listen(Number(process.env.PORT ?? (smoke ? 0 : 3000)), '127.0.0.1');
const { port } = app.getHttpServer().address() as { port: number };
console.log(`example-nestjs (${onFastify ? 'fastify' : 'express'}) listening on http://127.0.0.1:${port}`);

if (smoke) {
  for (const [method, path] of [
    ['GET', '/api/v1/users/42'],
    ['GET', '/api/v1/users/7'],
    ['GET', '/api/v1/users/42/activity'],
    ['POST', '/api/v1/users/42/ban'],
    ['POST', '/api/v1/users/42/charge'],
    ['GET', '/api/health'],
    ['GET', '/nope'],
  ] as const) {
    const res = await fetch(`http://127.0.0.1:${port}${path}`, { method });
    await res.arrayBuffer();
    console.log(`${res.status} ${method} ${path}`);
  }
  await app.close();
  await tracing.shutdown(); // flushes the spans
}

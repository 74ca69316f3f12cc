/**
 * Non-HTTP execution contexts (microservices here; GraphQL and WebSockets the same way) pass
 * through the interceptor untouched, and an application without an HTTP adapter starts fine.
 * Workspace Nest 12 with @nestjs/microservices over real TCP.
 */
import 'reflect-metadata';
import { createServer } from 'node:net';
import { Controller, Module } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { ExecutionContextHost } from '@nestjs/core/helpers/execution-context-host.js';
import { ClientProxyFactory, MessagePattern, RpcException, Transport } from '@nestjs/microservices';
import { firstValueFrom, type Observable, of } from 'rxjs';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { TRACEWIRE_SETUP, TracewireGuard, TracewireInterceptor, TracewireModule } from '../../src/index.js';
import { SERVER, setupTracing, type Tracing } from '../tracing.js';

let tracing: Tracing;
beforeAll(async () => {
  tracing = await setupTracing();
});
afterAll(async () => {
  await tracing.shutdown();
});

async function freePort(): Promise<number> {
  const srv = createServer();
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  const port = (srv.address() as { port: number }).port;
  await new Promise((r) => srv.close(r));
  return port;
}

@Controller()
class MathController {
  @MessagePattern({ cmd: 'sum' })
  sum(data: number[]) {
    return data.reduce((a, b) => a + b, 0);
  }

  @MessagePattern({ cmd: 'stream' })
  stream(): Observable<number> {
    return of(1, 2, 3);
  }

  @MessagePattern({ cmd: 'fail' })
  fail() {
    throw new RpcException('no such account');
  }
}

@Module({ imports: [TracewireModule.forRoot()], controllers: [MathController] })
class MicroserviceModule {}

it('a TCP microservice with TracewireModule answers as without it, and no SERVER span is made', async () => {
  const port = await freePort();
  const app = await NestFactory.createMicroservice(MicroserviceModule, {
    transport: Transport.TCP,
    options: { host: '127.0.0.1', port },
    logger: false,
    abortOnError: false,
  });
  await app.listen();
  const client = ClientProxyFactory.create({
    transport: Transport.TCP,
    options: { host: '127.0.0.1', port },
  });
  try {
    expect(await firstValueFrom(client.send({ cmd: 'sum' }, [1, 2, 3]))).toBe(6);
    expect(await firstValueFrom(client.send({ cmd: 'stream' }, {}))).toBe(1);
    const err = await firstValueFrom(client.send({ cmd: 'fail' }, {})).catch((e: unknown) => e);
    expect(err).toMatchObject({ message: 'no such account' });
    // No HTTP adapter: the module did not try to trace anything.
    expect(app.get(TRACEWIRE_SETUP)).toEqual({ platform: 'none' });
    await new Promise((r) => setTimeout(r, 200));
    expect(tracing.receiver.spans().filter((s) => s.kind === SERVER)).toEqual([]);
  } finally {
    await client.close();
    await app.close();
  }
});

it('returns the handler Observable itself for rpc, ws and graphql contexts', () => {
  const interceptor = new TracewireInterceptor();
  for (const type of ['rpc', 'ws', 'graphql']) {
    const ctx = new ExecutionContextHost([{}, {}, {}], MathController, MathController.prototype.sum);
    ctx.setType(type);
    const handled = of(42);
    expect(interceptor.intercept(ctx, { handle: () => handled })).toBe(handled);
    expect(new TracewireGuard().canActivate(ctx)).toBe(true);
  }
});

/**
 * orders (NestJS on Express): runs the order saga. Reserve stock at inventory, charge at payments;
 * when the payment fails, compensate by releasing the reservation, and the order ends as rejected.
 */
import 'reflect-metadata';
import {
  Body,
  Controller,
  HttpCode,
  HttpException,
  HttpStatus,
  Inject,
  Injectable,
  Module,
  Post,
} from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { start } from '@tracewire/core';
import { Traced, TracewireModule } from '@tracewire/nestjs';
import { announce, call, closeOnSignal, env } from './shared.js';

const tracing = start({ serviceName: 'orders', serviceVersion: '1.0.0' });
const inventoryUrl = env('INVENTORY_URL');
const paymentsUrl = env('PAYMENTS_URL');

interface OrderRequest {
  sku: string;
  quantity: number;
  card: string;
  slow?: boolean;
}

const PRICES: Record<string, number> = { book: 12, lamp: 40, chair: 95, 'rare-vinyl': 300 };
let nextOrder = 1;

@Injectable()
class OrderSaga {
  @Traced('saga.reserve-stock')
  async reserve(order: OrderRequest) {
    return call('POST', `${inventoryUrl}/reservations`, {
      sku: order.sku,
      quantity: order.quantity,
      slow: order.slow,
    });
  }

  @Traced('saga.charge')
  async charge(orderId: string, amount: number, order: OrderRequest) {
    return call('POST', `${paymentsUrl}/charges`, { orderId, amount, card: order.card, slow: order.slow });
  }

  /** Compensation: the payment failed, so give the stock back. */
  @Traced('saga.compensate')
  async release(reservationId: string) {
    return call('DELETE', `${inventoryUrl}/reservations/${reservationId}`);
  }

  @Traced('saga.place-order')
  async place(order: OrderRequest) {
    const orderId = `o-${nextOrder++}`;
    const reservation = await this.reserve(order);
    if (reservation.status !== 201) {
      throw new HttpException(
        { orderId, status: 'rejected', reason: reservation.body.error },
        HttpStatus.CONFLICT,
      );
    }
    const amount = (PRICES[order.sku] ?? 10) * order.quantity;
    const payment = await this.charge(orderId, amount, order);
    if (payment.status !== 201) {
      await this.release(String(reservation.body.id));
      if (payment.status >= 500) {
        throw new HttpException(
          { orderId, status: 'rejected', reason: 'payment provider failed' },
          HttpStatus.BAD_GATEWAY,
        );
      }
      throw new HttpException(
        { orderId, status: 'rejected', reason: payment.body.error },
        HttpStatus.PAYMENT_REQUIRED,
      );
    }
    return {
      orderId,
      status: 'confirmed',
      amount,
      reservation: reservation.body.id,
      charge: payment.body.chargeId,
    };
  }
}

@Controller('orders')
class OrdersController {
  constructor(@Inject(OrderSaga) private readonly saga: OrderSaga) {}

  @Post()
  @HttpCode(201)
  create(@Body() body: OrderRequest) {
    return this.saga.place(body);
  }
}

@Module({
  imports: [TracewireModule.forRoot()],
  controllers: [OrdersController],
  providers: [OrderSaga],
})
class OrdersModule {}

const app = await NestFactory.create(OrdersModule, { logger: ['error'] });
app.setGlobalPrefix('api');
await app.listen(Number(env('PORT', '0')), '127.0.0.1');
announce('orders', app.getHttpServer());
closeOnSignal(async () => {
  await app.close();
  await tracing.shutdown();
});

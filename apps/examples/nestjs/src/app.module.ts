import { Controller, Get, Module } from '@nestjs/common';
import { TracewireModule } from '@tracewire/nestjs';
import { UsersController } from './users.controller.js';
import { UsersService } from './users.service.js';

@Controller('health')
class HealthController {
  @Get()
  check() {
    return 'ok';
  }
}

@Module({
  // One line: every HTTP request becomes a SERVER span (health checks left out).
  imports: [TracewireModule.forRoot({ ignore: ['/api/health'] })],
  controllers: [UsersController, HealthController],
  providers: [UsersService],
})
export class AppModule {}

import { Controller, ForbiddenException, Get, Param, Post, UseGuards } from '@nestjs/common';
import type { Observable } from 'rxjs';
// A value import: Nest injects by the class emitted in decorator metadata (never `import type` here).
import { UsersService } from './users.service.js';

class AdminOnly {
  canActivate(): boolean {
    throw new ForbiddenException('admins only'); // 403 from a guard: on the span, status unset
  }
}

@Controller({ path: 'users', version: '1' })
export class UsersController {
  constructor(private readonly users: UsersService) {}

  @Get(':id') //                                   GET /api/v1/users/:id
  findOne(@Param('id') id: string) {
    return this.users.findOne(id);
  }

  @Get(':id/activity') //                          GET /api/v1/users/:id/activity
  activity(@Param('id') id: string): Observable<string> {
    return this.users.activity(id);
  }

  @Post(':id/ban') //                              POST /api/v1/users/:id/ban
  @UseGuards(AdminOnly)
  ban() {
    return 'banned';
  }

  @Post(':id/charge') //                           POST /api/v1/users/:id/charge
  charge() {
    throw new Error('payment service unavailable'); // 500: ERROR, error.type "Error"
  }
}

import { Injectable, NotFoundException } from '@nestjs/common';
import { Traced } from '@tracewire/nestjs';
import { Observable } from 'rxjs';

@Injectable()
export class UsersService {
  private readonly users = new Map([['42', { id: '42', name: 'Ada' }]]);

  /** A child span "UsersService.findOne" of the request span, exception recorded when it throws. */
  @Traced()
  async findOne(id: string): Promise<{ id: string; name: string }> {
    await new Promise((r) => setTimeout(r, 5)); // the database
    const user = this.users.get(id);
    if (user === undefined) throw new NotFoundException(`no user ${id}`); // 404: span status stays unset
    return user;
  }

  /** Observables too: the span lasts until the stream completes. */
  @Traced('users.activity')
  activity(id: string): Observable<string> {
    return new Observable((subscriber) => {
      const timer = setTimeout(() => {
        subscriber.next(`user ${id} logged in`);
        subscriber.complete();
      }, 5);
      return () => clearTimeout(timer);
    });
  }
}

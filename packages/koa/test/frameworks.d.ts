// The version matrix installs Koa under npm aliases; both majors are typed with @types/koa.
declare module 'koa2' {
  import Koa = require('koa');
  export = Koa;
}
declare module 'koa3' {
  import Koa = require('koa');
  export = Koa;
}

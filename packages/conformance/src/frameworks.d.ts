// The version matrix installs Express under npm aliases; both majors are typed with @types/express.
declare module 'express4' {
  import e = require('express');
  export = e;
}
declare module 'express5' {
  import e = require('express');
  export = e;
}
declare module 'koa2' {
  import Koa = require('koa');
  export = Koa;
}
declare module 'koa3' {
  import Koa = require('koa');
  export = Koa;
}

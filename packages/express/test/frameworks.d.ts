// The version matrix installs Express under npm aliases; both majors are typed with @types/express.
declare module 'express4' {
  import e = require('express');
  export = e;
}
declare module 'express5' {
  import e = require('express');
  export = e;
}

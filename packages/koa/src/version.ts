/** This package's name and version, reported as the instrumentation scope of its spans (a test keeps it equal to package.json). */
export const PACKAGE_NAME = '@tracewire/koa';
export const PACKAGE_VERSION = '0.1.0';

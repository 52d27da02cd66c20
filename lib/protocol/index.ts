export * from './errors';
export * from './types';
export * from './catalogue';
export * from './envelope';
export * from './codec';
export * from './tunnel-pipe';
export * from './credit-window';

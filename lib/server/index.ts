export { LocationServer, type LocationServerOptions } from './location-server';
export { processIsGone } from './reaper';

// Entry: the join link (#join=<session>) makes this tab a peer; otherwise it is a coordinator.
import { sessionFromHash } from '../src/session/ids';
import { startCoordinator } from './coordinator';
import { startPeer } from './peer';

const session = sessionFromHash(location.hash);
if (session !== null) void startPeer(session);
else void startCoordinator();

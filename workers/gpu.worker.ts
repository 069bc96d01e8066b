// GPU worker entry: all WGSL work of a peer runs here, behind Comlink.
import { expose } from 'comlink';
import { GpuWorkerApi } from '../src/engines/worker-api';

expose(new GpuWorkerApi());

// The workflow types a deploy worker registers.
export { deliveryPipeline } from './pipeline';
export { environmentLane } from './lane';
export { rollbackEnvironment } from './rollback';
export { driftCheck } from './drift';

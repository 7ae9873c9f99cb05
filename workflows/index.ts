// The workflow types a Slipway worker registers.
export { deliveryPipeline } from './pipeline';
export { environmentLane } from './lane';
export { rollbackEnvironment } from './rollback';

// Slipway's custom search attributes: what the Temporal UI and `slipway list` filter on. Registered
// on the dev server at start (dev/temporal.ts); on a real cluster run
// `temporal operator search-attribute create --name <name> --type Keyword` once per attribute.
import { defineSearchAttributeKey, SearchAttributeType } from '@temporalio/common';

export const ServiceAttribute = defineSearchAttributeKey('SlipwayService', SearchAttributeType.KEYWORD);
export const CommitAttribute = defineSearchAttributeKey('SlipwayCommit', SearchAttributeType.KEYWORD);
/** Overall pipeline state: building, deploying, waiting-approval, succeeded, failed, ... */
export const StateAttribute = defineSearchAttributeKey('SlipwayState', SearchAttributeType.KEYWORD);
/** The environment the pipeline currently works on or waits for. */
export const EnvironmentAttribute = defineSearchAttributeKey('SlipwayEnvironment', SearchAttributeType.KEYWORD);

export const slipwaySearchAttributes = [ServiceAttribute, CommitAttribute, StateAttribute, EnvironmentAttribute];

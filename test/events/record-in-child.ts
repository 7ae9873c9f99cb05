// A second worker process for notifications.test.ts: records one delivery event with nothing in
// memory from the first attempt, the way a worker that took over after a crash would. Arguments:
// the event as JSON, then the recorder's options as JSON; prints the result as JSON.
import { recordDeliveryEvent } from '../../activities/events';

async function main(): Promise<void> {
  const [eventJson, optsJson] = process.argv.slice(2);
  const result = await recordDeliveryEvent(JSON.parse(eventJson ?? ''), JSON.parse(optsJson ?? '{}'));
  process.stdout.write(JSON.stringify(result));
}

main().catch((err: unknown) => {
  process.stderr.write(`${(err as Error).message}\n`);
  process.exit(1);
});

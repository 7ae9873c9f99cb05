// The event bus behind GET /v2/events (docs/docs/event-bus.md): frames `event: <type>` /
// `data: <json>` / blank line, every body with `eventType` and `timestamp`, optional
// `?event_type=` filters. Like Marathon, nothing is replayed: a reconnecting subscriber re-reads state.
import type { ServerResponse } from 'node:http';

interface Subscriber {
  res: ServerResponse;
  types: Set<string> | null;
}

export class EventBus {
  private readonly subscribers = new Set<Subscriber>();

  emit(eventType: string, body: Record<string, unknown>): void {
    if (this.subscribers.size === 0) return;
    const payload = { ...body, eventType, timestamp: new Date().toISOString() };
    const frame = `event: ${eventType}\ndata: ${JSON.stringify(payload)}\n\n`;
    for (const s of this.subscribers) if (!s.types || s.types.has(eventType)) s.res.write(frame);
  }

  /** Takes over the response; it stays open until the client leaves or the emulator closes. */
  attach(res: ServerResponse, types: string[], remoteAddress: string): void {
    res.writeHead(200, { 'Content-Type': 'text/event-stream', 'Cache-Control': 'no-cache', Connection: 'keep-alive' });
    // Headers go out now: a filtered subscriber may wait long for its first event.
    res.flushHeaders();
    const sub: Subscriber = { res, types: types.length > 0 ? new Set(types) : null };
    this.subscribers.add(sub);
    res.on('close', () => {
      this.subscribers.delete(sub);
      this.emit('event_stream_detached', { remoteAddress });
    });
    this.emit('event_stream_attached', { remoteAddress });
  }

  closeAll(): void {
    for (const s of this.subscribers) s.res.end();
    this.subscribers.clear();
  }
}

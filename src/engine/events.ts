/** Docker's event stream: lifecycle events of containers, images, networks, volumes; kept in a bounded history. */
import { EventEmitter } from 'node:events';
import { labelMatches } from '../common/filters';

export interface EngineEvent {
  Type: 'container' | 'image' | 'network' | 'volume' | 'daemon';
  Action: string;
  Actor: { ID: string; Attributes: Record<string, string> };
  scope: 'local';
  time: number;
  timeNano: number;
  /** Legacy fields docker still sends for containers and images. */
  status?: string;
  id?: string;
  from?: string;
}

const HISTORY = 1000;
/** Wall-clock nanoseconds from a monotonic source: event times never go backwards within a daemon run. */
const EPOCH_NS = BigInt(Date.now()) * 1_000_000n - process.hrtime.bigint();

export class EventBus {
  private readonly history: EngineEvent[] = [];
  private readonly emitter = new EventEmitter().setMaxListeners(0);

  publish(type: EngineEvent['Type'], action: string, id: string, attributes: Record<string, string> = {}): void {
    const nowNs = EPOCH_NS + process.hrtime.bigint();
    const ev: EngineEvent = {
      Type: type,
      Action: action,
      Actor: { ID: id, Attributes: attributes },
      scope: 'local',
      time: Number(nowNs / 1_000_000_000n),
      timeNano: Number(nowNs),
    };
    if (type === 'container' || type === 'image') {
      ev.status = action;
      ev.id = id;
      if (attributes.image) ev.from = attributes.image;
    }
    this.history.push(ev);
    if (this.history.length > HISTORY) this.history.shift();
    this.emitter.emit('event', ev);
  }

  /** Past events from `sinceNs` on, then live ones until the returned function is called. */
  /** How many clients follow the events now (/info's NEventsListener). */
  subscribers(): number {
    return this.emitter.listenerCount('event');
  }

  subscribe(sinceNs: number | undefined, listener: (ev: EngineEvent) => void): () => void {
    if (sinceNs !== undefined) for (const ev of this.history) if (ev.timeNano >= sinceNs) listener(ev);
    this.emitter.on('event', listener);
    return () => this.emitter.off('event', listener);
  }
}

/** Docker's event filters: type, event/action, container, image, label, name... matched against an event. */
export function eventMatches(ev: EngineEvent, filters: Record<string, string[]>): boolean {
  const any = (key: string, pred: (v: string) => boolean) => !filters[key]?.length || filters[key].some(pred);
  const attrs = ev.Actor.Attributes;
  const idOrName = (v: string) => ev.Actor.ID.startsWith(v) || attrs.name === v;
  return (
    any('type', (v) => v === ev.Type) &&
    any('event', (v) => v === ev.Action || ev.Action.startsWith(v + ':')) &&
    any('container', (v) => ev.Type === 'container' && idOrName(v)) &&
    any('image', (v) => attrs.image === v || (ev.Type === 'image' && idOrName(v))) &&
    any('network', (v) => ev.Type === 'network' && idOrName(v)) &&
    any('volume', (v) => ev.Type === 'volume' && ev.Actor.ID === v) &&
    // several label filters are ANDed, as docker's MatchKVList
    (filters.label ?? []).every((v) => labelMatches(attrs, v))
  );
}

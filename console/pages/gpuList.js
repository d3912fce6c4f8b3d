// GPUs: every filter and sort GET /v1/marketplace/gpu/list has, cursor paging, live status.
import { useState } from 'preact/hooks';
import { api } from '../lib/api.js';
import { money, rating } from '../lib/format.js';
import { html } from '../lib/html.js';
import { useGpuEvents } from '../lib/liveGpuEvents.js';
import { ErrorNote, Field, Select, StatusBadge, useLoad } from '../lib/ui.js';

const EMPTY = { available: false, status: '', model: '', memory_min: '', price_min: '', price_max: '', region: '', miner_id: '', min_rating: '', sort: 'newest', limit: '20' };
const SORTS = [['newest', 'Newest'], ['price', 'Price, low first'], ['-price', 'Price, high first'], ['rating', 'Rating, low first'],
  ['-rating', 'Rating, high first'], ['memory', 'Memory, small first'], ['-memory', 'Memory, large first']];
const STATUSES = [['', 'Any status'], ['available', 'available'], ['booked', 'booked'], ['offline', 'offline']];

export function GpuList() {
  const [draft, setDraft] = useState(EMPTY);
  const [filters, setFilters] = useState(EMPTY);
  // Cursors of the pages before this one ("Previous" pops), and this page's own.
  const [cursors, setCursors] = useState([]);
  const cursor = cursors[cursors.length - 1];
  const [live, setLive] = useState({});
  const page = useLoad(async () => {
    const { body, headers } = await api('GET', '/v1/marketplace/gpu/list', { query: { ...filters, cursor } });
    return { gpus: body, next: headers.get('X-Next-Cursor') };
  }, [filters, cursor]);
  const stream = useGpuEvents((name, change) => {
    if (name === 'gpu.status_changed') setLive((m) => ({ ...m, [change.gpu_id]: change.status }));
  });
  const set = (name) => (e) => setDraft({ ...draft, [name]: e.currentTarget.type === 'checkbox' ? e.currentTarget.checked : e.currentTarget.value });
  const apply = (e) => {
    e.preventDefault();
    setLive({});
    setCursors([]);
    setFilters({ ...draft });
  };
  return html`<section>
    <h1 tabindex="-1">GPUs</h1>
    <form class="filters card" onSubmit=${apply} aria-label="Filters">
      <${Field} label="Model" id="f-model" value=${draft.model} onInput=${set('model')} placeholder="4090, H*00" />
      <${Select} label="Status" id="f-status" value=${draft.status} onChange=${set('status')} options=${STATUSES} />
      <${Field} label="Memory at least (GB)" id="f-memory" type="number" min="0" value=${draft.memory_min} onInput=${set('memory_min')} />
      <${Field} label="Price from (AITBC/h)" id="f-price-min" type="number" min="0" step="any" value=${draft.price_min} onInput=${set('price_min')} />
      <${Field} label="Price up to (AITBC/h)" id="f-price-max" type="number" min="0" step="any" value=${draft.price_max} onInput=${set('price_max')} />
      <${Field} label="Region" id="f-region" value=${draft.region} onInput=${set('region')} />
      <${Field} label="Miner" id="f-miner" value=${draft.miner_id} onInput=${set('miner_id')} />
      <${Field} label="Rating at least" id="f-rating" type="number" min="0" max="5" step="0.5" value=${draft.min_rating} onInput=${set('min_rating')} />
      <${Select} label="Sort" id="f-sort" value=${draft.sort} onChange=${set('sort')} options=${SORTS} />
      <${Select} label="Per page" id="f-limit" value=${draft.limit} onChange=${set('limit')} options=${[['10', '10'], ['20', '20'], ['50', '50'], ['100', '100']]} />
      <div class="field check"><input id="f-available" type="checkbox" checked=${draft.available} onChange=${set('available')} /><label for="f-available">Available now</label></div>
      <div class="actions"><button type="submit">Apply filters</button>
        <button type="button" class="secondary" onClick=${() => { setDraft(EMPTY); setCursors([]); setFilters(EMPTY); }}>Reset</button></div>
    </form>
    <p class="muted live-state" aria-live="polite">${stream.connected ? 'Status is live.' : stream.error ? `Live status unavailable: ${stream.error.message}` : 'Connecting live status…'}</p>
    <${ErrorNote} error=${page.error} />
    ${page.data ? html`
      <div class="table-wrap"><table class="gpus">
        <caption class="sr-only">GPUs matching the filters</caption>
        <thead><tr><th scope="col">Model</th><th scope="col">Memory</th><th scope="col">Price / h</th><th scope="col">Region</th>
          <th scope="col">Rating</th><th scope="col">Status</th></tr></thead>
        <tbody>${page.data.gpus.map((gpu) => html`<tr data-gpu=${gpu.id}>
          <td><a href=${`#/gpus/${encodeURIComponent(gpu.id)}`}>${gpu.model}</a><br /><small class="muted">${gpu.id}</small></td>
          <td>${gpu.memory_gb} GB</td><td>${money(gpu.price_per_hour)}</td><td>${gpu.region ?? '—'}</td>
          <td>${rating(gpu.average_rating, gpu.total_reviews)}</td><td><${StatusBadge} status=${live[gpu.id] ?? gpu.status} /></td>
        </tr>`)}</tbody>
      </table></div>
      ${page.data.gpus.length === 0 ? html`<p>No GPU matches these filters.</p>` : null}
      <div class="pager">
        <button type="button" class="secondary" disabled=${!cursors.length} onClick=${() => setCursors(cursors.slice(0, -1))}>Previous page</button>
        <button type="button" class="secondary" disabled=${!page.data.next} onClick=${() => setCursors([...cursors, page.data.next])}>Next page</button>
      </div>` : page.loading ? html`<p class="loading">Loading…</p>` : null}
  </section>`;
}

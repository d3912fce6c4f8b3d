// Bids: submit a standing order, watch it fill (polled while any is pending), cancel a pending one.
import { useState } from 'preact/hooks';
import { api } from '../lib/api.js';
import { money, when } from '../lib/format.js';
import { html } from '../lib/html.js';
import { ErrorNote, Field, useAction, useInterval, useLoad } from '../lib/ui.js';

const EMPTY = { provider: '*', capacity: '1', price: '', duration_hours: '1', gpu_model: '', memory_min: '', region: '' };

export function Bids({ account }) {
  const [draft, setDraft] = useState(EMPTY);
  const bids = useLoad(async () => (await api('GET', '/v1/marketplace/bids', { query: { limit: 50 } })).body, []);
  const pending = bids.data?.some((b) => b.status === 'pending');
  // A bid fills itself on the market's schedule: look again every 2 s while one waits.
  useInterval(bids.reload, 2000, Boolean(pending));
  const submit = useAction(async () => {
    const body = { provider: draft.provider, capacity: Number(draft.capacity), price: draft.price, duration_hours: Number(draft.duration_hours) };
    for (const name of ['gpu_model', 'region']) if (draft[name]) body[name] = draft[name];
    if (draft.memory_min) body.memory_min = Number(draft.memory_min);
    const { body: bid } = await api('POST', '/v1/marketplace/bids', { body });
    bids.reload();
    return bid;
  });
  const cancel = useAction(async (bid) => {
    await api('DELETE', `/v1/marketplace/bids/${encodeURIComponent(bid.id)}`);
    bids.reload();
  });
  const set = (name) => (e) => setDraft({ ...draft, [name]: e.currentTarget.value });
  return html`<section>
    <h1 tabindex="-1">Bids</h1>
    ${account.role === 'client' ? html`<form class="card filters" onSubmit=${(e) => { e.preventDefault(); void submit.run(); }} aria-label="New bid">
      <${Field} label="Provider (account or miner, * for any)" id="bid-provider" required value=${draft.provider} onInput=${set('provider')} />
      <${Field} label="GPUs" id="bid-capacity" type="number" min="1" max="64" required value=${draft.capacity} onInput=${set('capacity')} />
      <${Field} label="Most per GPU-hour (AITBC)" id="bid-price" type="number" min="0" step="any" required value=${draft.price} onInput=${set('price')} />
      <${Field} label="Hours" id="bid-hours" type="number" min="0.01" max="720" step="any" value=${draft.duration_hours} onInput=${set('duration_hours')} />
      <${Field} label="Model" id="bid-model" value=${draft.gpu_model} onInput=${set('gpu_model')} />
      <${Field} label="Memory at least (GB)" id="bid-memory" type="number" min="0" value=${draft.memory_min} onInput=${set('memory_min')} />
      <${Field} label="Region" id="bid-region" value=${draft.region} onInput=${set('region')} />
      <div class="actions"><button type="submit" disabled=${submit.busy}>Submit bid</button></div>
      ${submit.result ? html`<p role="status">Bid ${submit.result.id} is ${submit.result.status}.</p>` : null}
      <${ErrorNote} error=${submit.error} />
    </form>` : null}
    <${ErrorNote} error=${bids.error ?? cancel.error} />
    ${pending ? html`<p class="muted" aria-live="polite">Watching pending bids…</p>` : null}
    ${bids.data ? html`<div class="table-wrap"><table>
      <thead><tr><th scope="col">Bid</th><th scope="col">Status</th><th scope="col">GPUs</th><th scope="col">Price</th><th scope="col">Hours</th>
        <th scope="col">Bookings</th><th scope="col">Expires</th><th scope="col"><span class="sr-only">Actions</span></th></tr></thead>
      <tbody>${bids.data.map((b) => html`<tr data-bid=${b.id}>
        <td>${b.id}<br /><small class="muted">${b.provider}${b.gpu_model ? ` · ${b.gpu_model}` : ''}</small></td>
        <td data-testid="bid-status">${b.status}${b.reason ? html`<br /><small>${b.reason}</small>` : null}</td>
        <td>${b.capacity}</td><td>${money(b.price)}</td><td>${b.duration_hours}</td><td>${b.booking_ids.join(', ') || '—'}</td><td>${when(b.expires_at)}</td>
        <td>${b.status === 'pending' && account.role !== 'provider' ? html`<button type="button" class="danger" disabled=${cancel.busy} onClick=${() => cancel.run(b)}>Cancel</button>` : null}</td>
      </tr>`)}</tbody>
    </table></div>
    ${bids.data.length === 0 ? html`<p>No bids.</p>` : null}` : null}
  </section>`;
}

// A provider's offers: one per GPU (publishing again changes it), open or closed.
import { useState } from 'preact/hooks';
import { api } from '../lib/api.js';
import { fleetGpus } from '../lib/fleetGpus.js';
import { money } from '../lib/format.js';
import { html } from '../lib/html.js';
import { ErrorNote, Field, Select, useAction, useLoad } from '../lib/ui.js';

export function Offers({ account }) {
  const data = useLoad(async () => {
    const [gpus, offers] = await Promise.all([fleetGpus(account), api('GET', '/v1/marketplace/offers', { query: { status: 'all', limit: 500 } })]);
    return { gpus, offers: offers.body.filter((o) => gpus.some((g) => g.id === o.gpu_id)) };
  }, [account.account_id]);
  return html`<section>
    <h1 tabindex="-1">Offers</h1>
    <${ErrorNote} error=${data.error} />
    ${data.data ? html`${data.data.gpus.map((g) => html`<${OfferForm} gpu=${g} offer=${data.data.offers.find((o) => o.gpu_id === g.id)} onDone=${data.reload} />`)}
      ${data.data.gpus.length === 0 ? html`<p>No GPUs to offer yet.</p>` : null}` : null}
  </section>`;
}

function OfferForm({ gpu, offer, onDone }) {
  const [form, setForm] = useState({
    price_per_hour: String(offer?.price_per_hour ?? gpu.price_per_hour), min_hours: String(offer?.min_hours ?? 1),
    max_hours: String(offer?.max_hours ?? 24), status: offer?.status === 'closed' ? 'closed' : 'open',
  });
  const save = useAction(async () => {
    await api('POST', '/v1/marketplace/offers', { body: {
      gpu_id: gpu.id, price_per_hour: form.price_per_hour, min_hours: Number(form.min_hours), max_hours: Number(form.max_hours), status: form.status,
    } });
    onDone();
    return true;
  });
  const set = (name) => (e) => setForm({ ...form, [name]: e.currentTarget.value });
  const id = (name) => `${name}-${gpu.id}`;
  return html`<form class="card filters" aria-label=${`Offer for ${gpu.id}`} onSubmit=${(e) => { e.preventDefault(); void save.run(); }}>
    <h2 class="full">${gpu.model} <small class="muted">${gpu.id}</small></h2>
    <p class="full muted">${offer ? `Offer ${offer.id}: ${offer.status}, ${money(offer.price_per_hour)} per hour.` : 'No offer yet.'}</p>
    <${Field} label="Price per hour (AITBC)" id=${id('price')} type="number" min="0" step="any" required value=${form.price_per_hour} onInput=${set('price_per_hour')} />
    <${Field} label="Fewest hours" id=${id('min')} type="number" min="0.01" max="720" step="any" value=${form.min_hours} onInput=${set('min_hours')} />
    <${Field} label="Most hours" id=${id('max')} type="number" min="0.01" max="720" step="any" value=${form.max_hours} onInput=${set('max_hours')} />
    <${Select} label="Status" id=${id('status')} value=${form.status} onChange=${set('status')} options=${[['open', 'open'], ['closed', 'closed']]} />
    <div class="actions"><button type="submit" disabled=${save.busy}>${offer ? 'Change offer' : 'Publish offer'}</button></div>
    ${save.result ? html`<p class="full" role="status">Saved.</p>` : null}
    <div class="full"><${ErrorNote} error=${save.error} /></div>
  </form>`;
}

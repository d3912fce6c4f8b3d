// A GPU's page: specs, live status, offer terms, price history, ratings and reviews; a
// client books it here (quote first) and reviews it.
import { useMemo, useState } from 'preact/hooks';
import { api } from '../lib/api.js';
import { TimeChart } from '../lib/chart.js';
import { money, rating, when } from '../lib/format.js';
import { html } from '../lib/html.js';
import { useGpuEvents } from '../lib/liveGpuEvents.js';
import { ErrorNote, StatusBadge, useLoad } from '../lib/ui.js';
import { BookPanel } from './bookPanel.js';
import { GpuReviews } from './gpuReviews.js';

export function GpuPage({ id, account }) {
  const gpu = useLoad(async () => (await api('GET', `/v1/marketplace/gpu/${encodeURIComponent(id)}`)).body, [id]);
  const [liveStatus, setLiveStatus] = useState(undefined);
  useGpuEvents((name, change) => {
    if (name === 'gpu.status_changed' && change.gpu_id === id) setLiveStatus(change.status);
  });
  if (gpu.error) return html`<section><h1 tabindex="-1">GPU ${id}</h1><${ErrorNote} error=${gpu.error} /><p><a href="#/gpus">All GPUs</a></p></section>`;
  if (!gpu.data) return html`<p class="loading">Loading…</p>`;
  const g = gpu.data;
  const status = liveStatus ?? g.status;
  // The registry learns of a booking or a release from events: look again a moment later too.
  const refresh = () => {
    setLiveStatus(undefined);
    gpu.reload();
    setTimeout(gpu.reload, 1500);
  };
  return html`<section class="gpu-page">
    <p><a href="#/gpus">← All GPUs</a></p>
    <h1 tabindex="-1">${g.model} <${StatusBadge} status=${status} /></h1>
    <div class="grid">
      <div class="card">
        <h2>Specs</h2>
        <dl class="specs">
          <dt>GPU id</dt><dd>${g.id}</dd>
          <dt>Memory</dt><dd>${g.memory_gb} GB</dd>
          <dt>CUDA cores</dt><dd>${g.cuda_cores || '—'}</dd>
          <dt>Compute capability</dt><dd>${g.compute_capability ?? '—'}</dd>
          <dt>CUDA / driver</dt><dd>${g.cuda_version ?? '—'} / ${g.driver_version ?? '—'}</dd>
          <dt>Region</dt><dd>${g.region ?? '—'}</dd>
          <dt>Provider · miner</dt><dd>${g.owner_id} · ${g.miner_id}</dd>
          <dt>Listed price</dt><dd>${money(g.price_per_hour)} per hour</dd>
          <dt>Rating</dt><dd>${rating(g.average_rating, g.total_reviews)}</dd>
          <dt>Bookings</dt><dd>${g.total_bookings}</dd>
          <dt>Last heartbeat</dt><dd>${when(g.last_heartbeat_at)}</dd>
          ${g.telemetry ? html`<dt>Telemetry</dt><dd>${g.telemetry.utilization ?? '—'} % busy, ${g.telemetry.temperature_c ?? '—'} °C</dd>` : null}
        </dl>
      </div>
      <${OfferTerms} gpu=${g} />
      ${account.role === 'client' ? html`<${BookPanel} gpu=${g} onChange=${refresh} />` : null}
    </div>
    <${PriceHistory} model=${g.model} />
    <${GpuReviews} gpu=${g} account=${account} onChange=${gpu.reload} />
  </section>`;
}

/** The GPU's offer, when its provider published one (GET /v1/marketplace/offers has no GPU filter: by model, then this GPU). */
function OfferTerms({ gpu }) {
  const offers = useLoad(async () => (await api('GET', '/v1/marketplace/offers', { query: { status: 'all', gpu_model: gpu.model, limit: 100 } })).body, [gpu.id]);
  const offer = offers.data?.find((o) => o.gpu_id === gpu.id);
  return html`<div class="card">
    <h2>Offer terms</h2>
    <${ErrorNote} error=${offers.error} />
    ${offer ? html`<dl class="specs" data-testid="offer">
        <dt>Status</dt><dd>${offer.status}</dd>
        <dt>Price</dt><dd>${money(offer.price_per_hour)} per hour</dd>
        <dt>Hours</dt><dd>${offer.min_hours} to ${offer.max_hours}</dd>
        <dt>Models supported</dt><dd>${offer.supported_models.length ? offer.supported_models.join(', ') : 'any'}</dd>
      </dl>`
      : offers.data ? html`<p class="muted">No offer published: booked at the listed price, up to 720 hours.</p>` : null}
  </div>`;
}

/** The model's price over the last 24 hours (GET /v1/marketplace/pricing/{model}/history). */
function PriceHistory({ model }) {
  const history = useLoad(async () => (await api('GET', `/v1/marketplace/pricing/${encodeURIComponent(model)}/history`, { query: { limit: 1000 } })).body, [model]);
  // New arrays only when new points arrive: the chart is drawn again only then.
  const [xs, ys] = useMemo(() => {
    const points = history.data?.points ?? [];
    return [points.map((p) => Date.parse(p.at) / 1000), points.map((p) => p.price)];
  }, [history.data]);
  return html`<div class="card wide">
    <${ErrorNote} error=${history.error} />
    ${history.data ? html`<${TimeChart} title=${`Price of ${model}, last 24 hours`} xs=${xs} ys=${ys} unit="AITBC per hour" format=${money} />` : null}
  </div>`;
}

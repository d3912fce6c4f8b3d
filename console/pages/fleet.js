// A provider's fleet, live: status changes arrive from GET /v1/events/gpus (only this
// provider's GPUs; all for an admin) and update the table without reloading.
import { useState } from 'preact/hooks';
import { fleetGpus } from '../lib/fleetGpus.js';
import { money, when } from '../lib/format.js';
import { html } from '../lib/html.js';
import { useGpuEvents } from '../lib/liveGpuEvents.js';
import { ErrorNote, StatusBadge, useLoad } from '../lib/ui.js';

export function Fleet({ account }) {
  const fleet = useLoad(() => fleetGpus(account), [account.account_id]);
  const [live, setLive] = useState({});
  const [recent, setRecent] = useState([]);
  const stream = useGpuEvents((name, change) => {
    if (name !== 'gpu.status_changed') return;
    setLive((m) => ({ ...m, [change.gpu_id]: change }));
    setRecent((list) => [change, ...list].slice(0, 10));
    // A GPU this page has not seen (just registered): fetch the fleet again.
    if (change.reason === 'registered') fleet.reload();
  });
  const gpus = fleet.data ?? [];
  const counts = gpus.reduce((c, g) => ({ ...c, [live[g.id]?.status ?? g.status]: (c[live[g.id]?.status ?? g.status] ?? 0) + 1 }), {});
  return html`<section>
    <h1 tabindex="-1">Fleet</h1>
    <p class="muted" data-testid="live-state">${stream.connected ? 'Live: status changes appear as they happen.' : stream.error ? `Live updates unavailable: ${stream.error.message}` : 'Connecting…'}</p>
    <${ErrorNote} error=${fleet.error} />
    <dl class="figures">${['available', 'booked', 'offline'].map((s) => html`<div><dt>${s}</dt><dd data-count=${s}>${counts[s] ?? 0}</dd></div>`)}</dl>
    ${fleet.data ? html`<div class="table-wrap"><table>
      <thead><tr><th scope="col">GPU</th><th scope="col">Miner</th><th scope="col">Price / h</th><th scope="col">Status</th><th scope="col">Last heartbeat</th></tr></thead>
      <tbody>${gpus.map((g) => html`<tr data-gpu=${g.id}>
        <td><a href=${`#/gpus/${encodeURIComponent(g.id)}`}>${g.model}</a><br /><small class="muted">${g.id}</small></td>
        <td>${g.miner_id}</td><td>${money(g.price_per_hour)}</td>
        <td><${StatusBadge} status=${live[g.id]?.status ?? g.status} /></td>
        <td>${when(g.last_heartbeat_at)}</td>
      </tr>`)}</tbody>
    </table></div>
    ${gpus.length === 0 ? html`<p>No GPUs yet: register them with <code>npm run miner</code> or <code>POST /v1/marketplace/gpu/register</code>.</p>` : null}` : fleet.loading ? html`<p class="loading">Loading…</p>` : null}
    <h2>Recent changes</h2>
    <ul class="changes" aria-live="polite" data-testid="changes">${recent.map((c) => html`<li>
      ${when(c.occurred_at)}: ${c.model} <code>${c.gpu_id}</code> ${c.previous_status} → <strong>${c.status}</strong> (${c.reason.replace(/_/g, ' ')})
    </li>`)}</ul>
    ${recent.length === 0 ? html`<p class="muted">None since this page opened.</p>` : null}
  </section>`;
}

// Earnings per UTC day of one of the provider's miners (POST /v1/miners/{id}/earnings), as a chart.
import { useMemo, useState } from 'preact/hooks';
import { api } from '../lib/api.js';
import { TimeChart } from '../lib/chart.js';
import { fleetGpus } from '../lib/fleetGpus.js';
import { money } from '../lib/format.js';
import { html } from '../lib/html.js';
import { ErrorNote, Field, Select, useLoad } from '../lib/ui.js';

const daysAgo = (n) => new Date(Date.now() - n * 86_400_000).toISOString().slice(0, 10);

export function Earnings({ account }) {
  const miners = useLoad(async () => [...new Set((await fleetGpus(account)).map((g) => g.miner_id))].sort(), [account.account_id]);
  const [miner, setMiner] = useState('');
  const [from, setFrom] = useState(daysAgo(30));
  const chosen = miner || miners.data?.[0];
  const earnings = useLoad(async () => (chosen
    ? (await api('POST', `/v1/miners/${encodeURIComponent(chosen)}/earnings`, { query: { from_time: from } })).body
    : undefined), [chosen, from]);
  const e = earnings.data;
  const [xs, ys] = useMemo(() => [(e?.by_day ?? []).map((d) => Date.parse(d.day) / 1000), (e?.by_day ?? []).map((d) => d.net)], [e]);
  return html`<section>
    <h1 tabindex="-1">Earnings</h1>
    <${ErrorNote} error=${miners.error ?? earnings.error} />
    ${miners.data && miners.data.length === 0 ? html`<p>No miners yet: earnings appear once your GPUs are rented.</p>` : null}
    ${miners.data?.length ? html`<div class="filters card">
      <${Select} label="Miner" id="earn-miner" value=${chosen} onChange=${(ev) => setMiner(ev.currentTarget.value)} options=${miners.data.map((m) => [m, m])} />
      <${Field} label="From (UTC day)" id="earn-from" type="date" value=${from} onChange=${(ev) => setFrom(ev.currentTarget.value)} />
    </div>` : null}
    ${e ? html`<dl class="figures">
        <div><dt>Gross</dt><dd>${money(e.total.gross)}</dd></div>
        <div><dt>Platform fee</dt><dd>${money(e.total.fee)}</dd></div>
        <div><dt>Net</dt><dd data-testid="net">${money(e.total.net)}</dd></div>
        <div><dt>Bookings</dt><dd>${e.total.bookings}</dd></div>
      </dl>
      <div class="card wide"><${TimeChart} title=${`Net earnings per day, ${chosen}`} xs=${xs} ys=${ys} unit="AITBC" bars=${true} format=${money} /></div>
      <h2>By GPU</h2>
      <div class="table-wrap"><table><thead><tr><th scope="col">GPU</th><th scope="col">Bookings</th><th scope="col">Gross</th><th scope="col">Fee</th><th scope="col">Net</th></tr></thead>
        <tbody>${e.by_gpu.map((g) => html`<tr><td>${g.gpu_id}</td><td>${g.bookings}</td><td>${money(g.gross)}</td><td>${money(g.fee)}</td><td>${money(g.net)}</td></tr>`)}</tbody>
      </table></div>` : null}
  </section>`;
}
